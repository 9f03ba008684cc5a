"""The floor of the event-stream benchmark: a plain ``grpc.aio`` server-streaming server.

    python benchmarks/_stream_floor.py STATE_DIR BATCH

It loads the events of the log in ``STATE_DIR`` once, as the same generated ``nestr.v1``
messages nestr sends, and serves ``nestr.v1.EventService/Subscribe`` from memory: the events
after ``after_seq`` in ``SubscribeResponse`` messages of ``BATCH`` events each (1: one message
per event), then heartbeats every 5 s while the client stays. No log, no queue, no filter, no
auth: what gRPC itself costs, so nestr's rows can be read against it. Prints the line
``listening on 127.0.0.1:PORT`` like ``nestr serve`` and stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import bisect
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from grpc import aio

from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.server.eventproto import from_stored
from nestr.store.eventlog import open_event_log
from nestr.store.eventrows import EventQuery

HEARTBEAT = 5.0


class FloorService(pb_grpc.EventServiceServicer):
    """Subscribe from an in-memory list of ready messages."""

    def __init__(self, events: list[pb.Event], batch: int) -> None:
        self.events = events
        self.seqs = [e.seq for e in events]
        self.batch = batch

    async def Subscribe(
        self, request: pb.SubscribeRequest, context: aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.SubscribeResponse]:
        start = len(self.seqs) if request.live_only else bisect.bisect(self.seqs, request.after_seq)
        for i in range(start, len(self.events), self.batch):
            chunk = self.events[i : i + self.batch]
            yield pb.SubscribeResponse(batch=pb.EventBatch(events=chunk))
        while True:
            await asyncio.sleep(HEARTBEAT)
            yield pb.SubscribeResponse(heartbeat=pb.Heartbeat(head_seq=self.seqs[-1]))


async def serve(state: Path, batch: int) -> None:
    log = open_event_log(state)
    events = [from_stored(row) for row in log.read_stored(EventQuery())]
    log.close()
    server = aio.server()
    pb_grpc.add_EventServiceServicer_to_server(FloorService(events, batch), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await stop.wait()
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), int(sys.argv[2])))
