"""``nestr.v1.EventService``: the durable event log as a gRPC stream, pages and head.

A subscriber is two tasks joined by a bounded queue. The *producer* follows the log through the
session (replay from the cursor, then live; events other processes commit show up within one
poll) and puts each matching event in the queue. The *writer* (the RPC handler) takes what is
ready, up to ``batch`` events, sends it as one ``EventBatch``, and sends a ``Heartbeat`` when
nothing came for ``heartbeat`` seconds.

Catching up is paced by the client: the producer waits for room. Once the writer has sent an
event appended after the stream opened and then found the queue empty (the subscriber had
everything), the producer no longer waits: an event that finds
the queue full ends the stream with RESOURCE_EXHAUSTED, so a stalled client never holds the
server back and costs at most ``queue`` events. The events still queued are dropped; the
trailing metadata ``nestr-resume-after-seq`` carries the ``seq`` of the last event handed to
gRPC, which is where a new ``Subscribe`` must start to get every event exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio

from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from nestr.events import Event
    from nestr.session import Session

RESUME_KEY = "nestr-resume-after-seq"
PAGE_DEFAULT = 500
PAGE_MAX = 10_000
SEVERITY = {
    "debug": pb.SEVERITY_DEBUG,
    "info": pb.SEVERITY_INFO,
    "warning": pb.SEVERITY_WARNING,
    "error": pb.SEVERITY_ERROR,
}


@dataclass(frozen=True)
class StreamLimits:
    """How a subscription behaves: heartbeat period (s), queue bound and batch size (events)."""

    heartbeat: float = 5.0
    queue: int = 10_000
    batch: int = 500


def to_proto(event: Event) -> pb.Event:
    """The protobuf form of ``event`` (absent optional fields become empty strings)."""
    time = Timestamp()
    time.FromDatetime(event.time)
    return pb.Event(
        seq=event.seq or 0,
        id=event.id,
        source=event.source,
        type=event.type,
        subject=event.subject or "",
        time=time,
        run_id=event.run_id or "",
        step=event.step or "",
        repo=event.repo or "",
        correlation_id=event.correlation_id or "",
        traceparent=event.traceparent or "",
        severity=SEVERITY.get(event.severity, pb.SEVERITY_UNSPECIFIED),
        data_json=json.dumps(event.data, separators=(",", ":"), default=str),
    )


class EventService(pb_grpc.EventServiceServicer):
    """Serves the event log of ``session``; ``active`` counts open streams, ``overflows`` the
    subscribers that overflowed (when it happens: the stream ends once the client takes what
    was already sent)."""

    def __init__(self, session: Session, limits: StreamLimits) -> None:
        self.session = session
        self.limits = limits
        self.overflows = 0
        self.active = 0  # open Subscribe streams

    async def Subscribe(
        self, request: pb.SubscribeRequest, context: aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.SubscribeResponse]:
        subscriber = _Subscriber(self.session, self.limits, request, self._count_overflow)
        self.active += 1
        try:
            async for response in subscriber.responses():
                yield response
        finally:
            self.active -= 1
            await subscriber.close()
        if subscriber.overflowed:
            context.set_trailing_metadata(((RESUME_KEY, str(subscriber.sent)),))
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"subscriber fell more than {self.limits.queue} events behind; "
                f"subscribe again with after_seq={subscriber.sent}",
            )

    def _count_overflow(self) -> None:
        self.overflows += 1

    async def GetEvents(
        self, request: pb.GetEventsRequest, context: aio.ServicerContext[Any, Any]
    ) -> pb.GetEventsResponse:
        limit = min(request.limit or PAGE_DEFAULT, PAGE_MAX)
        page, next_after, end = self.session.event_page(
            after_seq=request.after_seq,
            limit=limit,
            type_prefixes=tuple(request.types),
            run_id=request.run_id or None,
            repo=request.repo or None,
        )
        return pb.GetEventsResponse(
            events=[to_proto(e) for e in page], next_after_seq=next_after, end=end
        )

    async def Head(
        self, request: pb.HeadRequest, context: aio.ServicerContext[Any, Any]
    ) -> pb.HeadResponse:
        return pb.HeadResponse(head_seq=self.session.event_head())


class _Overflow(Exception):
    """The subscriber's queue overflowed: its stream ends."""


class _Subscriber:
    """One stream: the producer task following the log, the queue, and what was sent."""

    def __init__(
        self,
        session: Session,
        limits: StreamLimits,
        request: pb.SubscribeRequest,
        on_overflow: Callable[[], None],
    ) -> None:
        self.session = session
        self.on_overflow = on_overflow
        self.limits = limits
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=limits.queue)
        # replay up to the head of now; live_only: from the head of now
        self.replay_head = session.event_head()
        self.sent = self.replay_head if request.live_only else request.after_seq
        self.caught_up = False  # delivered a live event and then found the queue empty
        self.overflowed = False
        follow = session.follow_events(
            since=self.sent,
            type_prefix=list(request.types),
            run_id=request.run_id or None,
            repo=request.repo or None,
        )
        self.producer = asyncio.create_task(self._produce(follow))

    async def _produce(self, follow: AsyncIterator[Event]) -> None:
        async for event in follow:
            if not self.caught_up:
                await self.queue.put(event)  # catching up: paced by the client
                continue
            try:
                self.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.overflowed = True
                self.on_overflow()
                return

    async def responses(self) -> AsyncIterator[pb.SubscribeResponse]:
        """Batches as events become ready, heartbeats when idle; ends on overflow."""
        while True:
            if self.sent > self.replay_head and self.queue.empty():
                self.caught_up = True
            try:
                first = await self._next()
            except _Overflow:
                return
            if first is None:
                yield self._heartbeat()
                continue
            batch = [first]
            while len(batch) < self.limits.batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            self.sent = batch[-1].seq or self.sent
            yield pb.SubscribeResponse(batch=pb.EventBatch(events=[to_proto(e) for e in batch]))

    async def _next(self) -> Event | None:
        """The next queued event, or None after a heartbeat period without one; raises
        :class:`_Overflow` once the producer overflowed (queued events are not sent)."""
        if self.overflowed:
            raise _Overflow
        if not self.queue.empty():  # the common case under load: no task, no timer
            return self.queue.get_nowait()
        getter = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait(
            {getter, self.producer}, timeout=self.limits.heartbeat, return_when="FIRST_COMPLETED"
        )
        if getter in done and not self.overflowed:
            return getter.result()
        getter.cancel()
        if self.producer.done():
            self.producer.result()  # re-raises what ended the follow
            raise _Overflow  # the follow never ends by itself
        return None

    def _heartbeat(self) -> pb.SubscribeResponse:
        now = Timestamp()
        now.FromDatetime(datetime.now(UTC))
        beat = pb.Heartbeat(head_seq=self.session.event_head(), server_time=now)
        return pb.SubscribeResponse(heartbeat=beat)

    async def close(self) -> None:
        self.producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.producer
