"""Hot reload of the server's config: a changed file or SIGHUP swaps in a valid config."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio

from nestr.config.settings import LogSettings
from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.server.app import Server, start
from nestr.server.reload import ConfigReloader
from nestr.session import Session

from .conftest import GUARD, fill, live_config
from .processes import nestr_serve

OLD, NEW = "old-t0ken-for-reload", "new-t0ken-for-reload"
CONFIG_TYPES = ["nestr.server.config."]


def write_config(path: Path, token: str, level: str = "info") -> None:
    path.write_text(f"server:\n  token: {token}\nlog:\n  level: {level}\n")


def auth(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Running:
    """A server with its reloader over a config file in tmp, and a channel to it."""

    config: Path
    state: Path
    stub: pb_grpc.EventServiceStub
    logged: list[LogSettings]


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, listen: str) -> AsyncIterator[Running]:
    """Serve over a config file in tmp, with the reloader polling it every 20 ms (``listen``:
    the address the reloader holds the server to; it binds 127.0.0.1 whatever it is)."""
    config, state = tmp_path / "config.yaml", tmp_path / "state"
    write_config(config, OLD)
    live = live_config(tmp_path, config, state)
    session = Session.from_config(live.current, cwd=tmp_path)
    server: Server = await start(session, listen="127.0.0.1:0", token=OLD)
    assert server.auth is not None
    logged: list[LogSettings] = []
    reloader = ConfigReloader(
        live,
        auth=server.auth,
        bus=session.bus,
        configure_log=logged.append,
        listen=listen,
        interval=0.02,
    )
    reloader.start()
    try:
        async with aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield Running(config, state, pb_grpc.EventServiceStub(channel), logged)
    finally:
        await reloader.stop()
        await server.stop(0)
        session.close()


def run(
    tmp_path: Path, body: Callable[[Running], Awaitable[None]], listen: str = "127.0.0.1:0"
) -> None:
    async def main() -> None:
        async with serving(tmp_path, listen) as running:
            await body(running)

    asyncio.run(main())


async def config_event(stub: pb_grpc.EventServiceStub, token: str, type: str) -> pb.Event:
    """The first ``type`` event of the log, waited for on the stream (GUARD is the deadline)."""
    stream = stub.Subscribe(pb.SubscribeRequest(types=CONFIG_TYPES), metadata=auth(token))
    async with asyncio.timeout(GUARD):
        while True:
            response = await stream.read()
            found = [e for e in response.batch.events if e.type == type]
            if found:
                stream.cancel()
                return found[0]


async def head_code(stub: pb_grpc.EventServiceStub, token: str) -> grpc.StatusCode:
    try:
        await stub.Head(pb.HeadRequest(), metadata=auth(token))
    except aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_a_changed_token_applies_on_the_next_call_and_open_streams_go_on(tmp_path: Path) -> None:
    """After the token in the config file changes, calls with the old token are refused and
    with the new one accepted, while a stream opened before the change keeps getting events;
    the reloaded event names the changed key but no token."""
    run(tmp_path, token_changes)


async def token_changes(running: Running) -> None:
    fill(running.state, 1, "nestr.test.before")
    types = ["nestr.test.", *CONFIG_TYPES]
    stream = running.stub.Subscribe(pb.SubscribeRequest(types=types), metadata=auth(OLD))
    async with asyncio.timeout(GUARD):
        assert [e.type for e in (await stream.read()).batch.events] == ["nestr.test.before"]
        write_config(running.config, NEW)
        [reloaded] = await take(stream, 1)  # the open stream hears of its own reload
        assert await head_code(running.stub, NEW) == grpc.StatusCode.OK
        assert await head_code(running.stub, OLD) == grpc.StatusCode.UNAUTHENTICATED
        fill(running.state, 2, "nestr.test.after")
        after = [event.type for event in await take(stream, 2)]
    stream.cancel()
    assert after == ["nestr.test.after", "nestr.test.after"]
    assert reloaded.type == "nestr.server.config.reloaded"
    data = json.loads(reloaded.data_json)
    assert (data["trigger"], data["changed"]) == ("file", ["server.token"])
    assert (data["applied"], data["restart"]) == (["server.token"], [])
    assert data["files"] == [str(running.config)]
    assert OLD not in reloaded.data_json
    assert NEW not in reloaded.data_json
    assert running.logged == []  # the log settings did not change


async def take(stream: Any, count: int) -> list[pb.Event]:
    """The next ``count`` events of ``stream`` (heartbeats skipped), and not one more."""
    events: list[pb.Event] = []
    while len(events) < count:
        events += (await stream.read()).batch.events
    assert len(events) == count
    return events


def test_an_invalid_edit_keeps_the_old_config_and_is_reported_with_its_location(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`log.level: loud` is refused as a whole: the old token still works, the new one in the
    same edit does not, and a rejected event and an error log line name file:line and field."""
    caplog.set_level(logging.ERROR, logger="nestr.server.reload")

    async def body(running: Running) -> None:
        event = await invalid_edit(running)
        assert f"{running.config.name}:4:10: log.level" in caplog.text
        assert NEW not in caplog.text + event.data_json
        assert OLD not in caplog.text

    run(tmp_path, body)


async def invalid_edit(running: Running) -> pb.Event:
    write_config(running.config, NEW, level="loud")
    event = await config_event(running.stub, OLD, "nestr.server.config.rejected")
    data = json.loads(event.data_json)
    assert (data["file"], data["line"], data["field"]) == (str(running.config), 4, "log.level")
    assert f"{running.config.name}:4:" in data["error"]
    assert event.severity == pb.SEVERITY_ERROR
    assert await head_code(running.stub, OLD) == grpc.StatusCode.OK
    assert await head_code(running.stub, NEW) == grpc.StatusCode.UNAUTHENTICATED
    return event


def test_live_and_restart_keys_are_told_apart(tmp_path: Path) -> None:
    """A new log level is applied through the logging hook while a new server.listen is only
    reported as needing a restart (the server keeps its address)."""
    run(tmp_path, listen_and_level_change)


async def listen_and_level_change(running: Running) -> None:
    running.config.write_text(
        f"server:\n  token: {OLD}\n  listen: 127.0.0.1:1\nlog:\n  level: debug\n"
    )
    event = await config_event(running.stub, OLD, "nestr.server.config.reloaded")
    data = json.loads(event.data_json)
    assert (data["applied"], data["restart"]) == (["log.level"], ["server.listen"])
    assert [log.level for log in running.logged] == ["debug"]


def test_removing_the_token_of_a_public_address_is_rejected(tmp_path: Path) -> None:
    """On a non-loopback address without mTLS a config without a token is refused like an
    invalid one: the rejected event points at server.token and the old token stays required."""

    async def body(running: Running) -> None:
        running.config.write_text("log:\n  level: info\n")
        event = await config_event(running.stub, OLD, "nestr.server.config.rejected")
        data = json.loads(event.data_json)
        assert data["field"] == "server.token"
        assert (data["file"], data["line"]) == (str(running.config), 2)
        assert "not a loopback address" in data["error"]
        assert await head_code(running.stub, "") == grpc.StatusCode.UNAUTHENTICATED
        assert await head_code(running.stub, OLD) == grpc.StatusCode.OK

    run(tmp_path, body, listen="0.0.0.0:7433")


def test_sighup_reloads_a_running_nestr_serve(tmp_path: Path) -> None:
    """SIGHUP to a real `nestr serve` re-reads its config file: a reloaded event with the signal
    as its trigger appears on the stream, and the server still stops cleanly on SIGTERM."""
    config = tmp_path / "config.yaml"
    write_config(config, OLD)
    with nestr_serve(tmp_path, "--config", str(config)) as (server, address):
        server.send_signal(signal.SIGHUP)

        async def reloaded() -> pb.Event:
            async with aio.insecure_channel(address) as channel:
                stub = pb_grpc.EventServiceStub(channel)
                return await config_event(stub, OLD, "nestr.server.config.reloaded")

        data = json.loads(asyncio.run(reloaded()).data_json)
        assert (data["trigger"], data["changed"]) == ("signal", [])
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=GUARD)
        assert server.returncode == 0, err
        assert OLD not in out + err
