"""Shared pieces of the gRPC server tests: a session over a tmp state dir, event writers."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from grpc import aio

from nestr.config.layers import LayerInputs
from nestr.config.live import LiveConfig
from nestr.config.settings import Settings
from nestr.events import Event
from nestr.server.app import start
from nestr.session import Session
from nestr.store.eventlog import open_event_log

from .certs import Pair, make_pki

GUARD = 60  # seconds: a hung stream fails the test instead of hanging the suite
TOKEN = "s3cret-t0ken-for-tests"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pair]:
    """The certificates of :func:`~tests.server.certs.make_pki`, made once per module (skips
    the test when `openssl` is not installed)."""
    return make_pki(tmp_path_factory.mktemp("pki"))


def make_session(state: Path) -> Session:
    return Session(Settings(state_dir=state), cwd=state)


def live_config(tmp_path: Path, config: Path, state: Path) -> LiveConfig:
    """The config of a server in ``tmp_path`` (its HOME too, no system files) read from the file
    ``config``, over the state dir ``state``: reloadable, as `nestr serve` holds it."""
    inputs = LayerInputs(
        cwd=tmp_path,
        environ={"HOME": str(tmp_path), "NESTR_STATE_DIR": str(state)},
        config_files=(config,),
        system_dir=tmp_path / "etc",
    )
    return LiveConfig(inputs)


def fill(state: Path, count: int, type: str = "nestr.test.old", **fields: str) -> None:
    """Append ``count`` events through a connection of their own (as another process would)."""
    log = open_event_log(state)
    for i in range(count):
        log.append(Event(type, {"i": i}, **fields))
    log.close()


def writer_script(state: Path, count: int) -> str:
    return textwrap.dedent(
        f"""
        from pathlib import Path
        from nestr.events import Event
        from nestr.store.eventlog import open_event_bus
        bus = open_event_bus(Path({str(state)!r}))
        for i in range({count}):
            bus.publish(Event("nestr.test.other", {{"i": i}}, repo="api" if i % 2 else "web"))
        """
    )


async def run_writer(state: Path, count: int) -> None:
    """Append ``count`` events from a separate Python process and wait for it."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", writer_script(state, count))
    assert await proc.wait() == 0


def serve_channel(
    tmp_path: Path, scenario: Callable[[aio.Channel], Awaitable[Any]], **options: Any
) -> Any:
    """Run ``scenario(channel)`` against a server (``start(..., **options)``) on a free port of
    127.0.0.1, over a session of ``tmp_path/state``; the server and session end after it."""

    async def main() -> Any:
        session = make_session(tmp_path / "state")
        server = await start(session, listen="127.0.0.1:0", **options)
        try:
            async with aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                async with asyncio.timeout(GUARD):
                    return await scenario(channel)
        finally:
            await server.stop(0)
            session.close()

    return asyncio.run(main())
