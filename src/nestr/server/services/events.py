"""``nestr.v1.EventService``: the durable event log as a gRPC stream, pages and head.

The server follows the log once: its :class:`~nestr.server.hub.EventHub` converts each new
event to protobuf and offers it to every open stream's bounded feed. A stream registers its
feed first, then replays from its cursor out of the log a page (``batch`` events) at a time,
paced by the client, then sends what its feed holds, skipping any ``seq`` the replay already
covered, up to ``batch`` events per ``EventBatch``, and a ``Heartbeat`` when nothing came for
``heartbeat`` seconds.

Once the stream has sent an event appended after it opened and then found its feed empty (the
subscriber had everything), a full feed ends the stream with RESOURCE_EXHAUSTED, so a stalled
client never holds the server back and costs at most ``queue`` events. (A feed that fills
before that is replaced by a new one and the log is read again: catching up is paced by the
client.) The events still queued are dropped; the trailing metadata ``nestr-resume-after-seq``
carries the ``seq`` of the last event handed to gRPC, which is where a new ``Subscribe`` must
start to get every event exactly once.
"""

from __future__ import annotations

import asyncio
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
from nestr.server.hub import EventHub, Feed, Where

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
        self.hub = EventHub(session, to_proto)  # the one follower of the log all streams share

    async def Subscribe(
        self, request: pb.SubscribeRequest, context: aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.SubscribeResponse]:
        subscriber = _Subscriber(self.session, self.hub, self.limits, request, self._count_overflow)
        self.active += 1
        try:
            async for response in subscriber.responses():
                yield response
        finally:
            self.active -= 1
            subscriber.close()
        if subscriber.overflowed:
            context.set_trailing_metadata(((RESUME_KEY, str(subscriber.sent)),))
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"subscriber fell more than {self.limits.queue} events behind; "
                f"subscribe again with after_seq={subscriber.sent}",
            )

    def _count_overflow(self) -> None:
        self.overflows += 1

    def backlog(self) -> int:
        """Events queued for the slowest open stream (the metrics endpoint reads it)."""
        return max((len(feed.items) for feed in list(self.hub.feeds)), default=0)

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


class _Subscriber:
    """One stream: its cursor in the log, its feed from the hub, and what was sent."""

    def __init__(
        self,
        session: Session,
        hub: EventHub,
        limits: StreamLimits,
        request: pb.SubscribeRequest,
        on_overflow: Callable[[], None],
    ) -> None:
        self.session = session
        self.hub = hub
        self.limits = limits
        self.where = Where(tuple(request.types), request.run_id or None, request.repo or None)
        self.on_overflow = on_overflow
        self.feed = self._register()  # before the log is read: nothing falls in between
        # replay up to the head of now; live_only: from the head of now
        self.replay_head = session.event_head()
        self.cursor = self.replay_head if request.live_only else request.after_seq
        self.sent = self.cursor  # seq of the last event handed to gRPC: where to resume
        self.replaying = not request.live_only
        self.caught_up = False  # delivered a live event and then found the feed empty
        self.overflowed = False

    def _register(self) -> Feed:
        feed = Feed(self.where, self.limits.queue, self._feed_overflowed)
        self.hub.register(feed)
        return feed

    def _feed_overflowed(self) -> None:
        if self.caught_up:  # still catching up: the log is read again instead
            self.overflowed = True
            self.on_overflow()

    async def responses(self) -> AsyncIterator[pb.SubscribeResponse]:
        """Batches as events become ready, heartbeats when idle; ends on overflow."""
        while True:
            events: list[pb.Event] | None = []
            if self.replaying:
                events = self._replay_page()
            else:
                if self.feed.overflowed:
                    if self.overflowed:
                        return
                    self._catch_up_again()
                    continue
                if self.sent > self.replay_head and not self.feed.items:
                    self.caught_up = True
                events = await self._live_batch()
            if events is None:
                yield self._heartbeat()
            elif events:
                self.sent = events[-1].seq
                yield pb.SubscribeResponse(batch=pb.EventBatch(events=events))

    def _replay_page(self) -> list[pb.Event]:
        """The next page of matching stored events after the cursor; the replay ends at the
        head (everything after it is in the feed)."""
        page, next_after, end = self.session.event_page(
            after_seq=self.cursor,
            limit=self.limits.batch,
            type_prefixes=self.where.types,
            run_id=self.where.run_id,
            repo=self.where.repo,
        )
        self.cursor = next_after
        self.replaying = not end
        return [to_proto(e) for e in page]

    def _catch_up_again(self) -> None:
        """The feed overflowed while the client was catching up: a new feed, then the log."""
        self.hub.unregister(self.feed)
        self.feed = self._register()
        self.replaying = True

    async def _live_batch(self) -> list[pb.Event] | None:
        """Up to ``batch`` queued events after the cursor; [] when the feed overflowed; None
        after a heartbeat period without one."""
        deadline = asyncio.get_running_loop().time() + self.limits.heartbeat
        feed = self.feed
        while True:
            if feed.error is not None:
                raise feed.error
            if feed.overflowed:
                return []
            events: list[pb.Event] = []
            while feed.items and len(events) < self.limits.batch:
                item = feed.items.popleft()
                if item.seq > self.cursor:  # at or below: already read from the log
                    self.cursor = item.seq
                    events.append(item.proto)
            if events:
                return events
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return None
            await feed.wait(remaining)

    def _heartbeat(self) -> pb.SubscribeResponse:
        now = Timestamp()
        now.FromDatetime(datetime.now(UTC))
        beat = pb.Heartbeat(head_seq=self.session.event_head(), server_time=now)
        return pb.SubscribeResponse(heartbeat=beat)

    def close(self) -> None:
        self.hub.unregister(self.feed)
