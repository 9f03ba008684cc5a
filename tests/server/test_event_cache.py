"""Events are converted to protobuf once for the whole server, however many streams replay them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from grpc import aio

from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.server.eventcache import MESSAGE_BYTES, EventCache
from nestr.server.eventproto import from_stored
from nestr.server.services.events import StreamLimits
from nestr.store.eventlog import open_event_log
from nestr.store.eventrows import EventQuery

from .conftest import fill
from .test_events_service import serve

LIMITS = StreamLimits(heartbeat=0.05)  # a live-only stream shows it is up at once


async def replay(channel: aio.Channel, last: int, after: int = 0) -> list[int]:
    """The seqs a new stream from ``after`` delivers, up to ``last``."""
    stream = pb_grpc.EventServiceStub(channel).Subscribe(pb.SubscribeRequest(after_seq=after))
    seqs: list[int] = []
    while not seqs or seqs[-1] < last:
        seqs += [e.seq for e in (await stream.read()).batch.events]
    stream.cancel()
    return seqs


def test_streams_replaying_the_same_history_convert_each_event_once(tmp_path: Path) -> None:
    """Ten streams replaying the same 2,000 stored events at once each get all of them in
    order, while the server reads and converts each event from the log only once."""
    fill(tmp_path, 2000)

    async def scenario(channel: aio.Channel, server: Any) -> tuple[list[list[int]], int]:
        streams = await asyncio.gather(*(replay(channel, 2000) for _ in range(10)))
        return streams, server.events.cache.loaded

    streams, loaded = serve(tmp_path, scenario, limits=LIMITS)
    assert all(seqs == list(range(1, 2001)) for seqs in streams)
    assert loaded == 2000


def test_live_events_are_kept_for_the_streams_that_replay_them(tmp_path: Path) -> None:
    """Events a stream received live are replayed to a new stream without reading the log's
    rows again: the hub's conversion is the one the replay uses."""

    async def scenario(channel: aio.Channel, server: Any) -> tuple[list[int], list[int], int]:
        stream = pb_grpc.EventServiceStub(channel).Subscribe(pb.SubscribeRequest(live_only=True))
        assert (await stream.read()).HasField("heartbeat")  # the stream is up: live from 0
        fill(tmp_path, 50)
        live: list[int] = []
        while not live or live[-1] < 50:
            live += [e.seq for e in (await stream.read()).batch.events]
        stream.cancel()
        return live, await replay(channel, 50), server.events.cache.loaded

    live, replayed, loaded = serve(tmp_path, scenario, limits=LIMITS)
    assert live == replayed == list(range(1, 51))
    assert loaded == 0


def test_the_cache_keeps_the_newest_events_within_its_bound(tmp_path: Path) -> None:
    """Over its bound the oldest entries go; an evicted event is read again when asked for,
    the same message as before; a seq the log does not have is left out."""
    fill(tmp_path, 100)
    log = open_event_log(tmp_path)
    try:
        rows = log.read_stored(EventQuery())

        def load(after: int, until: int) -> list[Any]:
            return log.read_stored(EventQuery(after, until_seq=until))

        cache = EventCache(max_bytes=20 * (MESSAGE_BYTES + 300))
        first = cache.messages(list(range(1, 101)), load)
        assert [message for message, _ in first] == [from_stored(row) for row in rows]
        assert cache.size <= cache.max_bytes
        assert 0 < len(cache) < 100
        assert cache.messages([100], load) == [first[99]]
        assert cache.loaded == 100  # the newest was still there
        again = cache.messages([1, 2, 999], load)
        assert [message for message, _ in again] == [from_stored(rows[0]), from_stored(rows[1])]
        assert cache.loaded == 102
    finally:
        log.close()
