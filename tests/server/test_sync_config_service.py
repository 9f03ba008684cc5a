"""``nestr.v1.SyncService`` and ``nestr.v1.ConfigService`` over a real gRPC channel on
127.0.0.1: sync planned and applied on a workspace of real git repos, and the config in force
shown with its origins and its secrets masked."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio
from tests.sync import conftest as sync_fixtures
from tests.sync.sync_helpers import Fleet, write_manifest

from nestr.config.layers import LayerInputs
from nestr.config.live import LiveConfig
from nestr.config.loader import LoadedConfig, load_config
from nestr.server._proto import config_pb2 as config_pb
from nestr.server._proto import config_pb2_grpc as config_grpc
from nestr.server._proto import events_pb2 as events
from nestr.server._proto import events_pb2_grpc as events_grpc
from nestr.server._proto import sync_pb2 as pb
from nestr.server._proto import sync_pb2_grpc as pb_grpc
from nestr.server.app import start
from nestr.server.errors import HINT_KEY
from nestr.server.reload import ConfigReloader
from nestr.testing import git

from .conftest import GUARD, make_session, serve_channel
from .processes import nestr_serve

SYNC = """sync:
  sources:
    - path: shared
  vars: {org: materi}
  rules:
    - files: [settings.cfg.j2]
      dest: settings.cfg
      template: true
      repos: all
    - files: [ci.yml]
      repos: {groups: [backend]}
"""
# the workspaces of the sync tests (real repos cloned from one template)
origin_template = sync_fixtures.origin_template
fleet = sync_fixtures.fleet
SECRET = "tok-4f9a1c-never-shown"
Scenario = Callable[[aio.Channel], Awaitable[Any]]


def serve(tmp_path: Path, scenario: Scenario, *, config: LoadedConfig | None = None) -> Any:
    """Run ``scenario(channel)`` against a server on a free port of 127.0.0.1."""
    return serve_channel(tmp_path, scenario, token=None, config=config)


def workspace(fleet: Callable[..., Fleet]) -> Fleet:
    """Repos api (group backend) and web, a shared template and a CI file, a real nestr.yaml."""
    f = fleet(["api", "web"], groups={"api": ["backend"]})
    f.source({"settings.cfg.j2": "org={{ org }}\nport={{ port }}\nname={{ repo.name }}\n"})
    f.source({"ci.yml": "on: push\n"})
    write_manifest(f, SYNC)
    return f


def actions(response: pb.PlanResponse | pb.ApplyResponse) -> dict[tuple[str, str], str]:
    return {(r.repo, x.path): x.action for r in response.repos for x in r.files}


def selection(f: Fleet, **fields: Any) -> pb.SyncSelection:
    return pb.SyncSelection(workspace=str(f.workspace.root), **fields)


def test_plan_reports_the_files_sync_would_create(
    fleet: Callable[..., Fleet], tmp_path: Path
) -> None:
    """Plan lists per repo and file the action of `nestr sync plan --json` and writes nothing."""
    f = workspace(fleet)

    async def scenario(channel: aio.Channel) -> pb.PlanResponse:
        stub = pb_grpc.SyncServiceStub(channel)
        return await stub.Plan(pb.PlanRequest(selection=selection(f), diff=True))

    plan = serve(tmp_path, scenario)
    assert actions(plan) == {
        ("api", "settings.cfg"): "create",
        ("api", "ci.yml"): "create",
        ("web", "settings.cfg"): "create",
    }
    assert dict(plan.summary) == {"create": 3}
    assert (plan.conflicts, plan.exit_code) == (0, 0)
    assert json.loads(plan.sources_json) == {"shared": {"kind": "dir", "revision": None}}
    web = next(r for r in plan.repos if r.repo == "web")
    assert web.path == str(f.repo("web"))
    assert not web.HasField("error")
    assert "+port=3" in web.files[0].diff
    assert not (f.repo("web") / "settings.cfg").exists()


def test_apply_writes_the_files_and_a_second_plan_is_unchanged(
    fleet: Callable[..., Fleet], tmp_path: Path
) -> None:
    """Apply writes every planned file (reported written) and a Plan after it has nothing to do."""
    f = workspace(fleet)

    async def scenario(channel: aio.Channel) -> tuple[pb.ApplyResponse, pb.PlanResponse]:
        stub = pb_grpc.SyncServiceStub(channel)
        applied = await stub.Apply(pb.ApplyRequest(selection=selection(f)))
        return applied, await stub.Plan(pb.PlanRequest(selection=selection(f)))

    applied, again = serve(tmp_path, scenario)
    assert applied.exit_code == 0
    assert all(x.written for r in applied.repos for x in r.files)
    assert all(r.lock_written for r in applied.repos)
    assert (f.repo("api") / "settings.cfg").read_text() == "org=materi\nport=3\nname=api\n"
    assert (f.repo("api") / "ci.yml").read_text() == "on: push\n"
    assert set(actions(again).values()) == {"unchanged"}
    assert dict(again.summary) == {"unchanged": 3}


def test_a_conflicting_local_edit_is_reported_and_kept(
    fleet: Callable[..., Fleet], tmp_path: Path
) -> None:
    """After an Apply that commits (each repo's commit reported), an overlapping local edit
    makes Apply end OK with conflicts=1 and exit_code 3 (the CLI's), the file marked conflict and
    not written; the edit stays, the other repo is updated."""
    f = workspace(fleet)
    mine = "org=mine\nport=3\nname=web\n"

    async def scenario(channel: aio.Channel) -> tuple[pb.PlanResponse, pb.ApplyResponse]:
        stub = pb_grpc.SyncServiceStub(channel)
        first = await stub.Apply(pb.ApplyRequest(selection=selection(f), commit=True))
        assert [len(r.commit) for r in first.repos] == [40, 40]
        assert git(f.repo("web"), "rev-parse", "HEAD") == first.repos[1].commit
        (f.repo("web") / "settings.cfg").write_text(mine)
        f.source({"settings.cfg.j2": "org={{ org }}-x\nport={{ port }}\nname={{ repo.name }}\n"})
        plan = await stub.Plan(pb.PlanRequest(selection=selection(f)))
        return plan, await stub.Apply(pb.ApplyRequest(selection=selection(f), conflicts="skip"))

    plan, applied = serve(tmp_path, scenario)
    assert (plan.conflicts, plan.exit_code) == (1, 3)
    assert (applied.conflicts, applied.exit_code) == (1, 3)
    web = next(r for r in applied.repos if r.repo == "web")
    conflict = next(x for x in web.files if x.path == "settings.cfg")
    assert (conflict.action, conflict.written) == ("conflict", False)
    assert (f.repo("web") / "settings.cfg").read_text() == mine
    assert (f.repo("api") / "settings.cfg").read_text() == "org=materi-x\nport=3\nname=api\n"


def test_apply_with_markers_writes_both_sides_of_a_conflict(
    fleet: Callable[..., Fleet], tmp_path: Path
) -> None:
    """Apply with conflicts=markers writes the conflicting file with conflict markers (reported
    written, still conflict, exit_code 3) instead of leaving it untouched."""
    f = workspace(fleet)

    async def scenario(channel: aio.Channel) -> pb.ApplyResponse:
        stub = pb_grpc.SyncServiceStub(channel)
        await stub.Apply(pb.ApplyRequest(selection=selection(f)))
        (f.repo("web") / "settings.cfg").write_text("org=mine\nport=3\nname=web\n")
        f.source({"settings.cfg.j2": "org={{ org }}-x\nport={{ port }}\nname={{ repo.name }}\n"})
        request = pb.ApplyRequest(selection=selection(f, repos=["web"]), conflicts="markers")
        return await stub.Apply(request)

    applied = serve(tmp_path, scenario)
    (web,) = applied.repos
    (item,) = web.files
    assert (item.action, item.written, applied.exit_code) == ("conflict", True, 3)
    text = (f.repo("web") / "settings.cfg").read_text()
    assert "<<<<<<<" in text
    assert "org=mine" in text
    assert "org=materi-x" in text


def test_apply_events_are_on_the_stream_in_the_calls_correlation(
    fleet: Callable[..., Fleet], tmp_path: Path
) -> None:
    """What Apply changed is on the event stream when the call returns (a created event per
    file, a finished event per repo), each carrying the call's x-correlation-id."""
    f = workspace(fleet)

    async def scenario(channel: aio.Channel) -> list[events.Event]:
        stub = pb_grpc.SyncServiceStub(channel)
        cid = (("x-correlation-id", "sync-call-7"),)
        await stub.Apply(pb.ApplyRequest(selection=selection(f)), metadata=cid)
        history = events_grpc.EventServiceStub(channel)
        page = await history.GetEvents(events.GetEventsRequest(types=["nestr.sync."]))
        return list(page.events)

    found = serve(tmp_path, scenario)
    assert sorted((e.type, e.repo) for e in found) == [
        ("nestr.sync.file.created", "api"),
        ("nestr.sync.file.created", "api"),
        ("nestr.sync.file.created", "web"),
        ("nestr.sync.repo.finished", "api"),
        ("nestr.sync.repo.finished", "web"),
    ]
    assert {e.correlation_id for e in found} == {"sync-call-7"}


def test_an_unknown_repo_is_invalid_argument_with_the_cli_message(
    fleet: Callable[..., Fleet],
    tmp_path: Path,
    nestr,  # type: ignore[no-untyped-def]
) -> None:
    """A repo the manifest does not name ends INVALID_ARGUMENT with the message and hint
    `nestr sync plan --repo` prints for it."""
    f = workspace(fleet)
    cli = nestr("sync", "plan", "-w", str(f.workspace.root), "--repo", "wbe")
    assert cli.code == 2, cli

    async def scenario(channel: aio.Channel) -> grpc.aio.AioRpcError:
        stub = pb_grpc.SyncServiceStub(channel)
        with pytest.raises(aio.AioRpcError) as raised:
            await stub.Plan(pb.PlanRequest(selection=selection(f, repos=["wbe"])))
        return raised.value

    error = serve(tmp_path, scenario)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"error: {error.details()}\n" in cli.err
    hint = dict(error.trailing_metadata() or ())[HINT_KEY]
    assert f"hint: {hint}\n" in cli.err


def test_apply_refuses_an_unknown_conflicts_mode(
    fleet: Callable[..., Fleet], tmp_path: Path
) -> None:
    """A conflicts mode other than skip/markers ends INVALID_ARGUMENT before any file is written."""
    f = workspace(fleet)

    async def scenario(channel: aio.Channel) -> grpc.aio.AioRpcError:
        stub = pb_grpc.SyncServiceStub(channel)
        with pytest.raises(aio.AioRpcError) as raised:
            await stub.Apply(pb.ApplyRequest(selection=selection(f), conflicts="theirs"))
        return raised.value

    error = serve(tmp_path, scenario)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'theirs'" in error.details()
    assert not (f.repo("web") / "settings.cfg").exists()


def loaded(tmp_path: Path) -> tuple[LoadedConfig, Path]:
    """A config loaded from one file that sets jobs, the server token, TLS files and a
    credential token."""
    path = tmp_path / "conf" / "server.yaml"
    path.parent.mkdir()
    path.write_text(
        "jobs: 3\n"
        f"server:\n  token: {SECRET}\n  tls:\n    cert: tls/server.pem\n    key: tls/server.key\n"
        "git:\n  credentials:\n    forge:\n      host: git.example.com\n"
        f"      token: {SECRET}-cred\n",
        encoding="utf-8",
    )
    inputs = LayerInputs(
        cwd=tmp_path, environ={}, config_files=(path,), system_dir=tmp_path / "etc"
    )
    return load_config(inputs), path


def test_get_config_shows_values_with_origins_and_masks_secrets(tmp_path: Path) -> None:
    """GetConfig gives each setting's value and file:line origin; the tokens and the TLS key's
    path show masked (the certificate's does not) and the token text appears nowhere in the
    response."""
    config, path = loaded(tmp_path)

    async def scenario(channel: aio.Channel) -> config_pb.GetConfigResponse:
        stub = config_grpc.ConfigServiceStub(channel)
        return await stub.GetConfig(config_pb.GetConfigRequest())

    response = serve(tmp_path, scenario, config=config)
    settings = {s.key: s for s in response.settings}
    assert (json.loads(settings["jobs"].value_json), settings["jobs"].origin) == (3, f"{path}:1")
    assert settings["log.level"].origin == "default"
    assert json.loads(settings["server.token"].value_json) == "********"
    assert json.loads(settings["git.credentials.forge.token"].value_json) == "********"
    assert json.loads(settings["server.tls.key"].value_json) == "********"
    assert json.loads(settings["server.tls.cert"].value_json).endswith(".pem")
    assert list(response.files) == [str(path)]
    assert SECRET.encode() not in response.SerializeToString()


def test_reload_without_a_reloader_is_unimplemented(tmp_path: Path) -> None:
    """A server started from code without a reloader ends Reload UNIMPLEMENTED, saying to
    restart it."""

    async def scenario(channel: aio.Channel) -> grpc.aio.AioRpcError:
        stub = config_grpc.ConfigServiceStub(channel)
        with pytest.raises(aio.AioRpcError) as raised:
            await stub.Reload(config_pb.ReloadRequest())
        return raised.value

    error = serve(tmp_path, scenario, config=loaded(tmp_path)[0])
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "restart it" in error.details()


def test_reload_swaps_a_valid_config_in_and_refuses_an_invalid_one(tmp_path: Path) -> None:
    """Reload re-reads the files: a changed value is reported (keys only) and GetConfig shows
    it with its origin; an invalid file ends INVALID_ARGUMENT naming file:line and the config
    in force stays the previous one."""
    config, path = loaded(tmp_path)
    inputs = LayerInputs(
        cwd=tmp_path, environ={}, config_files=(path,), system_dir=tmp_path / "etc"
    )
    live = LiveConfig(inputs, current=config)

    async def main() -> tuple[Any, ...]:
        session = make_session(tmp_path / "state")
        server = await start(session, listen="127.0.0.1:0", token=SECRET, config=live)
        assert server.config is not None
        assert server.auth is not None
        server.config.reloader = ConfigReloader(
            live,
            auth=server.auth,
            bus=session.bus,
            configure_log=lambda _: None,
            listen="127.0.0.1:0",
        )
        auth = (("authorization", f"Bearer {SECRET}"),)
        try:
            async with aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = config_grpc.ConfigServiceStub(channel)
                path.write_text(path.read_text().replace("jobs: 3", "jobs: 4"))
                done = await stub.Reload(config_pb.ReloadRequest(), metadata=auth)
                after = await stub.GetConfig(config_pb.GetConfigRequest(), metadata=auth)
                path.write_text(path.read_text().replace("jobs: 4", "jobs: many"))
                with pytest.raises(aio.AioRpcError) as refused:
                    await stub.Reload(config_pb.ReloadRequest(), metadata=auth)
                kept = await stub.GetConfig(config_pb.GetConfigRequest(), metadata=auth)
                return done, after, refused.value, kept
        finally:
            await server.stop(0)
            session.close()

    done, after, refused, kept = asyncio.run(main())
    assert (list(done.changed), list(done.applied), list(done.restart)) == (["jobs"], [], ["jobs"])
    jobs = next(s for s in after.settings if s.key == "jobs")
    assert (jobs.value_json, jobs.origin) == ("4", f"{path}:1")
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.details().startswith(f"{path}:1")
    assert next(s for s in kept.settings if s.key == "jobs").value_json == "4"


def test_nestr_serve_shows_its_config_with_the_env_origin_and_no_token(tmp_path: Path) -> None:
    """`nestr serve` hands its loaded config to GetConfig: a value set by the environment shows
    its env origin, the token set the same way shows masked, and a call without it is refused;
    Reload runs its reloader (nothing changed)."""
    env = {"NESTR_JOBS": "5", "NESTR_SERVER__TOKEN": SECRET}
    with nestr_serve(tmp_path / "state", env=env) as (server, address):

        async def client() -> tuple[grpc.StatusCode, config_pb.GetConfigResponse]:
            async with aio.insecure_channel(address) as channel, asyncio.timeout(GUARD):
                stub = config_grpc.ConfigServiceStub(channel)
                with pytest.raises(aio.AioRpcError) as refused:
                    await stub.GetConfig(config_pb.GetConfigRequest())
                auth = (("authorization", f"Bearer {SECRET}"),)
                shown = await stub.GetConfig(config_pb.GetConfigRequest(), metadata=auth)
                reloaded = await stub.Reload(config_pb.ReloadRequest(), metadata=auth)
                assert list(reloaded.changed) == []
                return refused.value.code(), shown

        code, shown = asyncio.run(client())
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=GUARD)
    assert code == grpc.StatusCode.UNAUTHENTICATED
    settings = {s.key: s for s in shown.settings}
    assert (settings["jobs"].value_json, settings["jobs"].origin) == ("5", "env NESTR_JOBS")
    assert json.loads(settings["server.token"].value_json) == "********"
    assert SECRET.encode() not in shown.SerializeToString()


def test_reflection_and_health_list_the_sync_and_config_services(tmp_path: Path) -> None:
    """Server reflection lists nestr.v1.SyncService and nestr.v1.ConfigService and health
    reports both SERVING."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    names = ("nestr.v1.SyncService", "nestr.v1.ConfigService")

    async def scenario(channel: aio.Channel) -> tuple[set[str], list[int]]:
        call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo()
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        answer = await call.read()
        await call.done_writing()
        health = health_pb2_grpc.HealthStub(channel)
        statuses = [
            (await health.Check(health_pb2.HealthCheckRequest(service=name))).status
            for name in names
        ]
        return {s.name for s in answer.list_services_response.service}, statuses

    listed, statuses = serve(tmp_path, scenario)
    assert set(names) <= listed
    assert statuses == [health_pb2.HealthCheckResponse.SERVING] * 2
