"""The audit trail over gRPC: every mutating RPC leaves one record naming its caller (the
token's identity or the mTLS subject, and the peer address); read-only RPCs none."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio
from tests.cli.test_audit import manifest_of
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

from nestr.server._proto import sync_pb2, sync_pb2_grpc, workflow_pb2, workflow_pb2_grpc
from nestr.server._proto import workspace_pb2 as ws_pb
from nestr.server._proto import workspace_pb2_grpc as ws_grpc
from nestr.session import Session
from nestr.store.audit import AuditRecord, select_records
from nestr.store.auditchain import verify_chain
from nestr.store.db import open_database

from .certs import Pair
from .conftest import GUARD, TOKEN, serve_channel
from .test_tls import over, secure, tls_of

AUTH = (("authorization", f"Bearer {TOKEN}"),)
IDENTITY = f"token:{hashlib.sha256(TOKEN.encode()).hexdigest()[:12]}"


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory))


def trail(state: Path) -> list[AuditRecord]:
    """The audit records of ``state``, read through a connection of the test's own."""
    with open_database(state) as db, db.reading() as conn:
        return select_records(conn)


async def grown(state: Path, count: int) -> list[AuditRecord]:
    """The trail once it holds ``count`` records (work a call started may end after it)."""
    while True:
        found = trail(state)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)  # polling, bounded by the scenario's GUARD


async def run_ended(stub: workflow_pb2_grpc.WorkflowServiceStub, run_id: str) -> str:
    while True:
        got = await stub.GetRun(workflow_pb2.GetRunRequest(run_id=run_id), metadata=AUTH)
        if got.run.status not in {"running", "pending"}:
            return str(got.run.status)
        await asyncio.sleep(0.02)


def test_each_mutating_rpc_leaves_one_record(project: Project, tmp_path: Path) -> None:
    """Lock, Assemble, sync Apply, StartRun, ResumeRun, CancelRun and RemoveWorkspace each add
    one record by the token's identity from 127.0.0.1 (a refused removal too); Status,
    ListWorkspaces, Plan, GetRun, ListRuns and GetStepLog add none; the chain verifies."""
    manifest, state, ws = manifest_of(project), tmp_path / "state", str(project.ws)

    async def scenario(channel: aio.Channel) -> None:
        space, runs = (
            ws_grpc.WorkspaceServiceStub(channel),
            workflow_pb2_grpc.WorkflowServiceStub(channel),
        )
        syncs = sync_pb2_grpc.SyncServiceStub(channel)
        await space.Lock(ws_pb.LockRequest(manifest=str(manifest)), metadata=AUTH)
        assert [r.action for r in trail(state)] == ["lock"]
        await space.Assemble(
            ws_pb.AssembleRequest(manifest=str(manifest), workspace=ws), metadata=AUTH
        )
        await grown(state, 2)
        await space.Status(ws_pb.StatusRequest(workspace=ws), metadata=AUTH)
        await space.ListWorkspaces(ws_pb.ListWorkspacesRequest(), metadata=AUTH)
        selection = sync_pb2.SyncSelection(workspace=ws)
        await syncs.Plan(sync_pb2.PlanRequest(selection=selection), metadata=AUTH)
        assert len(trail(state)) == 2
        await syncs.Apply(sync_pb2.ApplyRequest(selection=selection), metadata=AUTH)
        started = await runs.StartRun(
            workflow_pb2.StartRunRequest(workflow="broken", workspace=ws), metadata=AUTH
        )
        assert trail(state)[-1].target["run"] == started.run_id  # recorded before the reply
        assert await run_ended(runs, started.run_id) == "failed"
        await runs.ListRuns(workflow_pb2.ListRunsRequest(), metadata=AUTH)
        await runs.GetStepLog(workflow_pb2.GetStepLogRequest(run_id=started.run_id), metadata=AUTH)
        assert len(trail(state)) == 4
        await runs.ResumeRun(workflow_pb2.ResumeRunRequest(run_id=started.run_id), metadata=AUTH)
        assert await run_ended(runs, started.run_id) == "failed"
        await runs.CancelRun(workflow_pb2.CancelRunRequest(run_id=started.run_id), metadata=AUTH)
        with pytest.raises(aio.AioRpcError):  # sync wrote files nobody committed: local work
            await space.RemoveWorkspace(ws_pb.RemoveWorkspaceRequest(workspace=ws), metadata=AUTH)
        await space.RemoveWorkspace(
            ws_pb.RemoveWorkspaceRequest(workspace=ws, force=True), metadata=AUTH
        )

    serve_channel(tmp_path, scenario, token=TOKEN)
    found = trail(state)
    assert [(r.action, r.outcome) for r in found] == [
        ("lock", "ok"),
        ("workspace.assemble", "ok"),
        ("sync.apply", "ok"),
        ("run.start", "ok"),
        ("run.resume", "ok"),
        ("run.cancel", "ok"),
        ("workspace.remove", "refused"),
        ("workspace.remove", "ok"),
    ]
    assert {(r.actor, r.face) for r in found} == {(IDENTITY, "grpc")}
    assert all(r.peer is not None and r.peer.startswith("ipv4:127.0.0.1:") for r in found)
    assert TOKEN not in repr(found)
    with open_database(state) as db, db.reading() as conn:
        assert verify_chain(conn).ok


def test_a_refused_rpc_names_the_error_and_the_call(tmp_path: Path) -> None:
    """CancelRun of an unknown run ends NOT_FOUND and leaves one ``refused`` record carrying
    the error's class and the call's correlation id; StartRun without a manifest, refused
    before the run exists, leaves one too."""
    state = tmp_path / "state"

    async def scenario(channel: aio.Channel) -> str:
        stub = workflow_pb2_grpc.WorkflowServiceStub(channel)
        call = stub.CancelRun(workflow_pb2.CancelRunRequest(run_id="nosuchrun"), metadata=AUTH)
        with pytest.raises(aio.AioRpcError) as failed:
            await call
        assert failed.value.code() == grpc.StatusCode.NOT_FOUND
        metadata = await call.initial_metadata()
        with pytest.raises(aio.AioRpcError):
            await stub.StartRun(workflow_pb2.StartRunRequest(workflow="w"), metadata=AUTH)
        return str(dict(metadata)["x-correlation-id"])

    cid = serve_channel(tmp_path, scenario, token=TOKEN)
    record, start = trail(state)
    assert (record.action, record.outcome, record.error) == ("run.cancel", "refused", "NotFound")
    assert (start.action, start.outcome, start.actor) == ("run.start", "refused", IDENTITY)
    assert start.target["workflow"] == "w"
    assert record.correlation_id == cid
    assert record.actor == IDENTITY


def test_mtls_callers_are_named_by_their_certificate(tmp_path: Path, pki: dict[str, Pair]) -> None:
    """With mTLS the record names the client certificate's subject."""
    state = tmp_path / "state"

    async def cancel(channel: aio.Channel) -> Any:
        stub = workflow_pb2_grpc.WorkflowServiceStub(channel)
        return await stub.CancelRun(workflow_pb2.CancelRunRequest(run_id="x"), timeout=GUARD)

    (code,) = over(state, tls_of(pki, mutual=True), [secure(pki, "client")], cancel)
    assert code == grpc.StatusCode.NOT_FOUND
    (record,) = trail(state)
    assert record.actor.startswith("cert:")
    assert "CN=client" in record.actor
    assert record.face == "grpc"


def test_a_server_session_without_a_caller_acts_as_itself(tmp_path: Path) -> None:
    """Outside an RPC (a resume at start, a reload on SIGHUP) the session's own actor is named."""
    from nestr.config.settings import Settings
    from nestr.session.audit import Actor

    with Session(Settings(state_dir=tmp_path), cwd=tmp_path, actor=Actor.local("server")) as s:
        s.gc_cache()
    (record,) = trail(tmp_path)
    assert record.face == "server"
    assert "@" in record.actor


def test_config_reloads_are_recorded_by_whoever_asked(tmp_path: Path) -> None:
    """A Reload RPC is recorded by its caller (``refused`` with the error's class when the new
    config is invalid; GetConfig leaves nothing); a reload the server does itself (SIGHUP, a
    changed file) is recorded by the server."""
    from nestr.config.layers import LayerInputs
    from nestr.config.live import LiveConfig
    from nestr.server._proto import config_pb2, config_pb2_grpc
    from nestr.server.app import start
    from nestr.server.reload import ConfigReloader
    from nestr.session.audit import Actor

    path, state = tmp_path / "nestr.config.yaml", tmp_path / "state"
    path.write_text(f"state_dir: {state}\njobs: 3\n")
    inputs = LayerInputs(cwd=tmp_path, environ={}, config_files=(path,), system_dir=tmp_path / "e")
    live = LiveConfig(inputs)

    async def main() -> None:
        session = Session(live.current.settings, cwd=tmp_path, actor=Actor.local("server"))
        server = await start(session, listen="127.0.0.1:0", token=TOKEN, config=live)
        assert server.config is not None
        assert server.auth is not None
        reloader = ConfigReloader(
            live,
            auth=server.auth,
            bus=session.bus,
            configure_log=lambda _: None,
            listen="127.0.0.1:0",
            session=session,
        )
        server.config.reloader = reloader
        try:
            async with aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = config_pb2_grpc.ConfigServiceStub(channel)
                path.write_text(f"state_dir: {state}\njobs: 4\n")
                await stub.Reload(config_pb2.ReloadRequest(), metadata=AUTH)
                await stub.GetConfig(config_pb2.GetConfigRequest(), metadata=AUTH)
                path.write_text(f"state_dir: {state}\njobs: many\n")
                with pytest.raises(aio.AioRpcError):
                    await stub.Reload(config_pb2.ReloadRequest(), metadata=AUTH)
            await reloader.reload("signal")
        finally:
            await server.stop(0)
            session.close()

    asyncio.run(main())
    found = trail(state)
    assert [(r.action, r.outcome, r.error, r.face) for r in found] == [
        ("config.reload", "ok", None, "grpc"),
        ("config.reload", "refused", "ConfigError", "grpc"),
        ("config.reload", "refused", "ConfigError", "server"),
    ]
    assert found[0].target == {"trigger": "rpc", "changed": ["jobs"]}
    assert found[0].actor == IDENTITY
    assert found[2].target == {"trigger": "signal"}


def test_a_server_and_cli_processes_recording_at_once_keep_one_chain(tmp_path: Path) -> None:
    """While RPCs are recorded by the server, four nestr processes record on the same store:
    every record is there, numbered without gaps, and the chain verifies."""
    import os
    import sys

    state = tmp_path / "state"
    env = {**os.environ, "NESTR_STATE_DIR": str(state)}

    async def scenario(channel: aio.Channel) -> None:
        stub = workflow_pb2_grpc.WorkflowServiceStub(channel)

        async def refused_cancel() -> None:
            with pytest.raises(aio.AioRpcError):
                await stub.CancelRun(workflow_pb2.CancelRunRequest(run_id="none"), metadata=AUTH)

        argv = [sys.executable, "-m", "nestr", "workspace", "gc"]
        procs = [await asyncio.create_subprocess_exec(*argv, env=env) for _ in range(4)]
        await asyncio.gather(*(refused_cancel() for _ in range(12)))
        assert [await p.wait() for p in procs] == [0] * 4

    serve_channel(tmp_path, scenario, token=TOKEN)
    found = trail(state)
    assert [r.seq for r in found] == list(range(1, 17))
    faces = sorted(r.face for r in found)
    assert faces == ["cli"] * 4 + ["grpc"] * 12
    with open_database(state) as db, db.reading() as conn:
        assert verify_chain(conn).ok
