"""``nestr.v1.WorkspaceService`` over a real gRPC channel on 127.0.0.1: real upstream git repos
assembled into a workspace, locked, inspected, listed and removed by a client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

from nestr.errors import UsageError
from nestr.git.filelock import try_file_lock
from nestr.manifest.cache import load_manifest_repos
from nestr.server._proto import events_pb2 as events
from nestr.server._proto import events_pb2_grpc as events_grpc
from nestr.server._proto import workspace_pb2 as pb
from nestr.server._proto import workspace_pb2_grpc as pb_grpc
from nestr.server.app import start
from nestr.server.errors import HINT_KEY

from .conftest import GUARD, TOKEN, make_session, serve_channel

FINISHED = "nestr.workspace.assembly.finished"
Scenario = Callable[[pb_grpc.WorkspaceServiceStub, aio.Channel], Awaitable[Any]]


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Upstreams api and web (real repos with history) and a manifest of both."""
    made = make_project(tmp_path, upstream_templates(tmp_path_factory), names=("api", "web"))
    made.manifest(made.spec("api"), made.spec("web"))
    return made


def manifest_of(project: Project) -> Path:
    return project.tmp / "project" / "nestr.yaml"


def serve(tmp_path: Path, scenario: Scenario, *, token: str | None = None) -> Any:
    """Run ``scenario(stub, channel)`` against a server on a free port of 127.0.0.1."""
    return serve_channel(
        tmp_path,
        lambda channel: scenario(pb_grpc.WorkspaceServiceStub(channel), channel),
        token=token,
    )


async def assembly_events(channel: aio.Channel, correlation_id: str) -> list[events.Event]:
    """The workspace events carrying ``correlation_id``, up to and with ``assembly.finished``,
    read from the event stream (filtered by type prefix, then by the id)."""
    stream = events_grpc.EventServiceStub(channel).Subscribe(
        events.SubscribeRequest(types=["nestr.workspace."])
    )
    seen: list[events.Event] = []
    try:
        while True:
            response = await stream.read()
            assert response is not aio.EOF
            for event in response.batch.events:
                if event.correlation_id == correlation_id:
                    seen.append(event)
                    if event.type == FINISHED:
                        return seen
    finally:
        stream.cancel()


async def rpc_error(call: Awaitable[Any]) -> tuple[grpc.StatusCode, str, list[str]]:
    with pytest.raises(aio.AioRpcError) as failed:
        await call
    error = failed.value
    hints = [v for k, v in error.trailing_metadata() or () if k == HINT_KEY]
    return error.code(), error.details() or "", hints


def test_assemble_returns_at_once_and_its_events_carry_the_returned_id(
    tmp_path: Path, project: Project
) -> None:
    """Assemble returns while the test holds the workspace's assembly lock (nothing cloned
    yet); once released, the assembly's events arrive on Subscribe with the returned
    correlation id, ending with a successful ``assembly.finished``, and Status shows both
    repos checked out and clean."""
    manifest, ws = manifest_of(project), project.ws
    (ws / ".nestr").mkdir(parents=True)
    call = (("x-correlation-id", "assemble-call-1"),)

    async def scenario(stub: pb_grpc.WorkspaceServiceStub, channel: aio.Channel) -> None:
        request = pb.AssembleRequest(manifest=str(manifest), workspace=str(ws))
        with try_file_lock(ws / ".nestr" / "assemble.lock") as taken:
            assert taken
            response = await stub.Assemble(request, metadata=call)
            assert not (ws / "api").exists()  # returned before any repo was worked on
        assert response.correlation_id == "assemble-call-1"
        assert (response.workspace, list(response.repos)) == (str(ws), ["api", "web"])
        seen = await assembly_events(channel, response.correlation_id)
        assert {e.repo for e in seen if e.type == "nestr.workspace.repo.checked_out"} == {
            "api",
            "web",
        }
        assert json.loads(seen[-1].data_json)["ok"] is True
        status = await stub.Status(pb.StatusRequest(manifest=str(manifest), workspace=str(ws)))
        assert status.ok
        shown = [(r.name, r.state, r.branch, r.dirty) for r in status.repos]
        assert shown == [("api", "ok", "main", False), ("web", "ok", "main", False)]
        assert status.repos[0].commit == project.upstreams["api"].head()

    serve(tmp_path, scenario)


def test_lock_status_list_and_remove_a_workspace(tmp_path: Path, project: Project) -> None:
    """Lock writes nestr.lock with the upstream commits (Status then reports each repo locked),
    an edited file makes Status report its repo dirty, ListWorkspaces shows the workspace,
    RemoveWorkspace refuses it FAILED_PRECONDITION with the CLI's words while it holds the edit
    and removes it with force."""
    manifest, ws = manifest_of(project), project.ws

    async def scenario(stub: pb_grpc.WorkspaceServiceStub, channel: aio.Channel) -> None:
        assembled = await stub.Assemble(
            pb.AssembleRequest(manifest=str(manifest), workspace=str(ws))
        )
        await assembly_events(channel, assembled.correlation_id)
        locked = await stub.Lock(pb.LockRequest(manifest=str(manifest)))
        assert (locked.ok, locked.written, locked.path) == (
            True,
            True,
            str(manifest.parent / "nestr.lock"),
        )
        assert {r.name: r.commit for r in locked.repos} == {
            name: up.head() for name, up in project.upstreams.items()
        }
        assert (manifest.parent / "nestr.lock").is_file()
        (ws / "web" / "README.md").write_text("edited\n", encoding="utf-8")
        status = await stub.Status(pb.StatusRequest(manifest=str(manifest), workspace=str(ws)))
        assert status.lock_file == str(manifest.parent / "nestr.lock")
        assert [(r.name, r.dirty, r.lock.state) for r in status.repos] == [
            ("api", False, "match"),
            ("web", True, "match"),
        ]
        assert status.repos[1].changes.unstaged == 1
        listed = await stub.ListWorkspaces(pb.ListWorkspacesRequest())
        assert [(w.root, w.exists, w.ephemeral) for w in listed.workspaces] == [
            (str(ws), True, False)
        ]
        code, details, hints = await rpc_error(
            stub.RemoveWorkspace(pb.RemoveWorkspaceRequest(workspace=str(ws)))
        )
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        assert details == f"kept {ws}: it holds local work\n  web: uncommitted changes"
        assert hints == ["push or commit it, or pass force"]
        assert (ws / "web" / "README.md").exists()
        removed = await stub.RemoveWorkspace(
            pb.RemoveWorkspaceRequest(workspace=listed.workspaces[0].id, force=True)
        )
        assert (removed.removed, removed.root) == (True, str(ws))
        assert not ws.exists()
        assert not (await stub.ListWorkspaces(pb.ListWorkspacesRequest())).workspaces

    serve(tmp_path, scenario)


def test_an_unknown_repo_is_invalid_argument_with_the_clis_message(
    tmp_path: Path, project: Project
) -> None:
    """Assembling a repo the manifest does not name ends INVALID_ARGUMENT with the message and
    hint the CLI prints for it (the manifest's own error), and nothing is assembled."""
    manifest, ws = manifest_of(project), project.ws
    with pytest.raises(UsageError) as cli:
        load_manifest_repos(manifest).select(names=["nope"])

    async def scenario(stub: pb_grpc.WorkspaceServiceStub, channel: aio.Channel) -> Any:
        request = pb.AssembleRequest(manifest=str(manifest), workspace=str(ws), repos=["nope"])
        return await rpc_error(stub.Assemble(request))

    code, details, hints = serve(tmp_path, scenario)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == cli.value.message
    assert hints == ([cli.value.hint] if cli.value.hint else [])
    assert not ws.exists()


def test_a_bad_manifest_is_invalid_argument_naming_file_and_line(
    tmp_path: Path, project: Project
) -> None:
    """A manifest with a misspelt key ends Assemble INVALID_ARGUMENT with the file:line:column
    and field the CLI names, and its hint."""
    manifest = manifest_of(project)
    manifest.write_text("version: 1\nrepos:\n  - name: api\n    revison: main\n", encoding="utf-8")

    async def scenario(stub: pb_grpc.WorkspaceServiceStub, channel: aio.Channel) -> Any:
        request = pb.AssembleRequest(manifest=str(manifest), workspace=str(project.ws))
        return await rpc_error(stub.Assemble(request))

    code, details, hints = serve(tmp_path, scenario)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == f"{manifest}:4:5: repos[0].revison: unknown key"
    assert hints == ["did you mean 'revision'?"]


def test_workspace_calls_need_the_token_and_reflection_lists_the_service(tmp_path: Path) -> None:
    """With server.token set, ListWorkspaces without a token ends UNAUTHENTICATED and with it
    works; reflection lists nestr.v1.WorkspaceService."""
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    auth = (("authorization", f"Bearer {TOKEN}"),)

    async def scenario(stub: pb_grpc.WorkspaceServiceStub, channel: aio.Channel) -> Any:
        code, _, _ = await rpc_error(stub.ListWorkspaces(pb.ListWorkspacesRequest()))
        listed = await stub.ListWorkspaces(pb.ListWorkspacesRequest(), metadata=auth)
        call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(metadata=auth)
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        answer = await call.read()
        await call.done_writing()
        names = {s.name for s in answer.list_services_response.service}
        return code, list(listed.workspaces), names

    code, workspaces, names = serve(tmp_path, scenario, token=TOKEN)
    assert (code, workspaces) == (grpc.StatusCode.UNAUTHENTICATED, [])
    assert "nestr.v1.WorkspaceService" in names


def test_a_locked_assembly_without_a_lock_file_is_the_calls_error(
    tmp_path: Path, project: Project
) -> None:
    """Assemble with ``locked`` and no nestr.lock ends INVALID_ARGUMENT with the CLI's message
    and hint (the assembly's first step runs before the call returns), and no workspace is
    made."""
    manifest, ws = manifest_of(project), project.ws

    async def scenario(stub: pb_grpc.WorkspaceServiceStub, channel: aio.Channel) -> Any:
        request = pb.AssembleRequest(manifest=str(manifest), workspace=str(ws), locked=True)
        return await rpc_error(stub.Assemble(request))

    code, details, hints = serve(tmp_path, scenario)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == f"no lock file at {manifest.parent / 'nestr.lock'}"
    assert hints == ["run `nestr lock` to create it"]
    assert not ws.exists()


def test_stopping_the_server_cancels_its_assemblies_and_waits_for_them(
    tmp_path: Path, project: Project
) -> None:
    """An assembly still waiting for the workspace's lock when the server stops is cancelled
    and waited for: once ``stop`` returns no assembly task is left and no repo was cloned."""
    manifest, ws = manifest_of(project), project.ws
    (ws / ".nestr").mkdir(parents=True)

    async def main() -> tuple[bool, int]:
        session = make_session(tmp_path / "state")
        server = await start(session, listen="127.0.0.1:0", token=None)
        try:
            async with aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = pb_grpc.WorkspaceServiceStub(channel)
                request = pb.AssembleRequest(manifest=str(manifest), workspace=str(ws))
                await stub.Assemble(request)
            assert server.workspaces is not None
            tasks = list(server.workspaces.active)
            await server.stop(0)
            return all(t.cancelled() for t in tasks), len(server.workspaces.active) + len(tasks)
        finally:
            session.close()

    with try_file_lock(ws / ".nestr" / "assemble.lock") as taken:
        assert taken
        cancelled, counted = asyncio.run(asyncio.wait_for(main(), GUARD))
    assert (cancelled, counted) == (True, 1)  # the one assembly, cancelled, and none left
    assert not (ws / "api").exists()


def test_lock_events_carry_the_calls_id_and_an_unknown_workspace_is_not_found(
    tmp_path: Path, project: Project
) -> None:
    """The events of a Lock call carry the call's correlation id (one ``lock.resolved`` per
    repo, then ``lock.finished``), and removing a workspace nobody registered ends NOT_FOUND
    with the CLI's message and hint."""
    manifest = manifest_of(project)
    call = (("x-correlation-id", "lock-call-7"),)

    async def scenario(stub: pb_grpc.WorkspaceServiceStub, channel: aio.Channel) -> Any:
        await stub.Lock(pb.LockRequest(manifest=str(manifest)), metadata=call)
        page = await events_grpc.EventServiceStub(channel).GetEvents(
            events.GetEventsRequest(types=["nestr.workspace.lock."])
        )
        seen = [(e.type, e.correlation_id) for e in page.events]
        missing = stub.RemoveWorkspace(pb.RemoveWorkspaceRequest(workspace="no-such-ws"))
        return seen, await rpc_error(missing)

    seen, (code, details, hints) = serve(tmp_path, scenario)
    resolved = ("nestr.workspace.lock.resolved", "lock-call-7")
    assert seen == [resolved, resolved, ("nestr.workspace.lock.finished", "lock-call-7")]
    assert code == grpc.StatusCode.NOT_FOUND
    assert details == "no registered workspace has the id or path 'no-such-ws'"
    assert hints == ["`nestr workspace list` shows them"]


def test_an_ephemeral_assembly_is_listed_with_its_lifetime(
    tmp_path: Path, project: Project
) -> None:
    """An ephemeral Assemble with ``ttl_seconds`` makes a workspace under the server's state
    dir that ListWorkspaces shows as ephemeral, expiring that many seconds after it was
    created."""
    manifest = manifest_of(project)

    async def scenario(stub: pb_grpc.WorkspaceServiceStub, channel: aio.Channel) -> Any:
        request = pb.AssembleRequest(manifest=str(manifest), ephemeral=True, ttl_seconds=3600)
        assembled = await stub.Assemble(request)
        await assembly_events(channel, assembled.correlation_id)
        return assembled, await stub.ListWorkspaces(pb.ListWorkspacesRequest())

    assembled, listed = serve(tmp_path, scenario)
    root = Path(assembled.workspace)
    assert (tmp_path / "state") in root.parents
    assert (root / "api" / "README.md").is_file()
    (entry,) = listed.workspaces
    assert (entry.root, entry.ephemeral, entry.expired) == (str(root), True, False)
    lifetime = datetime.fromisoformat(entry.expires) - datetime.fromisoformat(entry.created)
    assert lifetime == timedelta(hours=1)
