"""The server's stream gauges: the backlog of the slowest stream, and overflows as a counter."""

from __future__ import annotations

import asyncio
from pathlib import Path

from grpc import aio
from tests.server.conftest import fill, make_session

from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.server.app import start
from nestr.server.hub import Feed, Shared, Where
from nestr.server.services.events import EventService, StreamLimits
from nestr.watchers.metrics_endpoint import MetricsEndpoint

from .metrics_helpers import GUARD, samples, scrape, value


def test_backlog_is_the_longest_queue_of_the_open_streams(tmp_path: Path) -> None:
    """`backlog()` (the lag gauge) is the number of events queued for the slowest stream, and
    0 with no stream open."""
    service = EventService(make_session(tmp_path), StreamLimits())
    assert service.backlog() == 0
    feeds = [Feed(Where(), 100, lambda: None) for _ in range(2)]
    service.hub.feeds.extend(feeds)  # registered as the hub's follower would hold them
    item = Shared(1, "nestr.test", None, None, pb.Event(), 0)
    for _ in range(3):
        feeds[0].offer(item)
    feeds[1].offer(item)
    assert service.backlog() == 3
    service.session.close()


def test_an_overflowing_subscriber_is_counted(tmp_path: Path) -> None:
    """A subscriber that stops reading until its stream overflows makes
    `nestr_stream_overflows_total` 1 in the endpoint of that server, and the stream's backlog
    is gone from the lag gauge once the stream is dropped."""
    fill(tmp_path, 3)
    big = "x" * 65_536  # large events fill the transport's buffers quickly

    async def main() -> str:
        session = make_session(tmp_path)
        limits = StreamLimits(queue=8, batch=4, heartbeat=0.2)
        server = await start(session, listen="127.0.0.1:0", token=None, limits=limits)
        endpoint = MetricsEndpoint.start(session, listen="127.0.0.1:0", streams=server.events)
        try:
            async with aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                async with asyncio.timeout(GUARD):
                    stub = pb_grpc.EventServiceStub(channel)
                    stream = stub.Subscribe(pb.SubscribeRequest(live_only=True))
                    assert (await stream.read()).HasField("heartbeat")
                    fill(tmp_path, 1)
                    while not (await stream.read()).batch.events:  # caught up: live from 4
                        pass
                    while server.events.overflows == 0:  # stalled: nothing is read meanwhile
                        fill(tmp_path, 20, subject=big)
                        await asyncio.sleep(0.05)
                    return await asyncio.to_thread(scrape, endpoint.url)
        finally:
            await endpoint.stop()
            await server.stop(0)
            session.close()

    found = samples(asyncio.run(main()))
    assert value(found, "nestr_stream_overflows_total") == 1
    assert value(found, "nestr_stream_lag_events") == 0
