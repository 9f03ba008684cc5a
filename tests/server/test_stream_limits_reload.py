"""`server.stream.*` changed in the config file of a running server: applied without a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio

from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.server.app import start
from nestr.server.reload import ConfigReloader
from nestr.server.services.events import StreamLimits
from nestr.session import Session

from .conftest import GUARD, fill, live_config
from .processes import nestr_serve

BEFORE = "server:\n  stream:\n    heartbeat: 3600\n    queue: 1000\n    batch: 500\n"
AFTER = "server:\n  stream:\n    heartbeat: 0.1\n    queue: 5\n    batch: 3\n"
STREAM_KEYS = ["server.stream.batch", "server.stream.heartbeat", "server.stream.queue"]
BIG = "x" * 65_536  # large events fill the transport's buffers quickly


def test_new_limits_apply_to_new_and_open_streams_without_dropping_them(tmp_path: Path) -> None:
    """After the limits in the config file change, the reloaded event lists them as applied; a
    stream opened before goes on delivering, now in batches of at most 3, gets a heartbeat
    although its old period was an hour, and once stalled ends RESOURCE_EXHAUSTED at the new
    queue bound of 5; a new stream replays in batches of at most 3."""
    (tmp_path / "config.yaml").write_text(BEFORE)
    result = asyncio.run(serving(tmp_path, limits_change))
    reloaded, live, replayed, beat, ended = result
    data = json.loads(reloaded.data_json)
    assert (data["changed"], data["applied"], data["restart"]) == (STREAM_KEYS, STREAM_KEYS, [])
    assert [seq for batch in live for seq in batch] == list(range(12, 16))
    assert max(len(batch) for batch in live) <= 3
    assert [seq for batch in replayed for seq in batch] == list(range(1, 16))
    assert max(len(batch) for batch in replayed) == 3
    assert beat.WhichOneof("kind") == "heartbeat"
    assert ended.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "fell more than 5 events behind" in (ended.details() or "")


async def serving(tmp_path: Path, scenario: Any) -> Any:
    """Run ``scenario(stub, state, config, server)`` against a server started as `nestr serve`
    starts it (limits from the config in tmp), its reloader polling the file every 20 ms."""
    config, state = tmp_path / "config.yaml", tmp_path / "state"
    live = live_config(tmp_path, config, state)
    session = Session.from_config(live.current, cwd=tmp_path)
    limits = StreamLimits.from_settings(live.current.settings.server.stream)
    server = await start(session, listen="127.0.0.1:0", token=None, limits=limits)
    assert server.auth is not None
    reloader = ConfigReloader(
        live,
        auth=server.auth,
        bus=session.bus,
        configure_log=lambda _: None,
        listen="127.0.0.1:0",
        interval=0.02,
        events=server.events,
    )
    reloader.start()
    try:
        async with aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            async with asyncio.timeout(GUARD):
                return await scenario(pb_grpc.EventServiceStub(channel), state, config, server)
    finally:
        await reloader.stop()
        await server.stop(0)
        session.close()


async def limits_change(stub: Any, state: Path, config: Path, server: Any) -> Any:
    fill(state, 10)
    stream = stub.Subscribe(pb.SubscribeRequest())
    assert [e.seq for e in (await stream.read()).batch.events] == list(range(1, 11))
    config.write_text(AFTER)
    reloaded = (await batches_until(stream, 11))[-1][-1]  # the open stream hears of it
    fill(state, 4)  # within the new queue bound: a burst of more would end the stream
    live = await batches_until(stream, 15)
    beat = await stream.read()  # an hour's period before the reload: 0.1 s now
    replay = stub.Subscribe(pb.SubscribeRequest())
    replayed = [[e.seq for e in batch] for batch in await batches_until(replay, 15)]
    replay.cancel()
    while server.events.overflows == 0:  # the open stream stalls: nothing is read meanwhile
        fill(state, 5, subject=BIG)
        await asyncio.sleep(0.05)
    with pytest.raises(aio.AioRpcError) as ended:
        await read_to_the_end(stream)
    return reloaded, [[e.seq for e in batch] for batch in live], replayed, beat, ended.value


async def read_to_the_end(stream: Any) -> None:
    while True:
        await stream.read()


async def batches_until(stream: Any, last: int) -> list[list[Any]]:
    """The event batches ``stream`` yields up to the one holding seq ``last`` (heartbeats
    skipped)."""
    batches: list[list[Any]] = []
    while not batches or batches[-1][-1].seq < last:
        events = list((await stream.read()).batch.events)
        if events:
            batches.append(events)
    return batches


def test_nestr_serve_takes_its_limits_from_the_config_and_reloads_them(tmp_path: Path) -> None:
    """A real `nestr serve` batches by `server.stream.batch` from its config file (2: batches
    of 2), and after the file says 3 a new stream gets batches of 3, the open one goes on."""
    config, state = tmp_path / "config.yaml", tmp_path / "state"
    config.write_text("server:\n  stream:\n    batch: 2\n")
    fill(state, 5)
    with nestr_serve(state, "--config", str(config)) as (server, address):
        before, after, still = asyncio.run(batch_sizes(address, config, state))
        server.terminate()
        _, err = server.communicate(timeout=GUARD)
        assert server.returncode == 0, err
    assert before == [[1, 2], [3, 4], [5]]
    assert after == [[1, 2, 3], [4, 5, 6], [7]]
    assert still == [[7]]


async def batch_sizes(address: str, config: Path, state: Path) -> Any:
    """The seqs by batch of a stream of test events before the batch setting changes, of a new
    stream of every event after it changed, and what the first stream got after the change."""
    async with aio.insecure_channel(address) as channel, asyncio.timeout(GUARD):
        stub = pb_grpc.EventServiceStub(channel)
        first = stub.Subscribe(pb.SubscribeRequest(types=["nestr.test."]))
        before = [[e.seq for e in batch] for batch in await batches_until(first, 5)]
        config.write_text("server:\n  stream:\n    batch: 3\n")  # the server polls each second
        watch = stub.Subscribe(pb.SubscribeRequest(types=["nestr.server.config."]))
        await batches_until(watch, 6)  # seq 6: the reload's event
        watch.cancel()
        fill(state, 1)  # seq 7
        second = stub.Subscribe(pb.SubscribeRequest())
        after = [[e.seq for e in batch] for batch in await batches_until(second, 7)]
        second.cancel()
        still = [[e.seq for e in batch] for batch in await batches_until(first, 7)]
        first.cancel()
    return before, after, still
