"""The one channel the CLI opens to a server: its address and token come from the settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nestr.client import stubs
from nestr.client.channel import open_channel
from nestr.config.settings import Secret, ServerSettings, Settings
from nestr.errors import UsageError
from nestr.server._proto import events_pb2 as pb
from nestr.server.app import start
from nestr.session import Session

from .conftest import GUARD, TOKEN


def test_the_channel_goes_to_server_address_with_the_token(tmp_path: Path) -> None:
    """Without an explicit address the channel dials server.address, and every call carries
    server.token: a server that wants the token answers."""

    async def scenario() -> int:
        session = Session(Settings(state_dir=tmp_path / "state"), cwd=tmp_path)
        server = await start(session, listen="127.0.0.1:0", token=TOKEN)
        settings = ServerSettings(address=f"127.0.0.1:{server.port}", token=Secret(TOKEN))
        try:
            async with open_channel(settings) as channel, asyncio.timeout(GUARD):
                head = await stubs.events(channel).Head(pb.HeadRequest())
                return int(head.head_seq)
        finally:
            await server.stop(0)
            session.close()

    assert asyncio.run(scenario()) == 0


def test_no_address_is_a_usage_error() -> None:
    """With neither an address nor server.address there is nothing to dial: exit 2, a hint."""
    with pytest.raises(UsageError, match="no server address") as refused:
        open_channel(ServerSettings())
    assert refused.value.exit_code == 2
    assert refused.value.hint == "pass --server HOST:PORT or set server.address"
