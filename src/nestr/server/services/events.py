"""``nestr.v1.EventService``: the durable event log as a gRPC stream, pages and head.

The server follows the log once: its :class:`~nestr.server.hub.EventHub` converts each new
event to protobuf and offers it to every open stream's bounded feed. A stream registers its
feed first, then replays from its cursor out of the log a page (``batch`` events) at a time,
paced by the client (the messages come from the server's
:class:`~nestr.server.eventcache.EventCache`, so each event is converted once however many
streams replay it), then sends what its feed holds, skipping any ``seq`` the replay already
covered, up to ``batch`` events (and about a megabyte) per ``EventBatch``, and a ``Heartbeat``
when nothing came for ``heartbeat`` seconds.

Once the stream has sent an event appended after it opened and then found its feed empty (the
subscriber had everything), a full feed ends the stream with RESOURCE_EXHAUSTED, so a stalled
client never holds the server back and costs at most ``queue`` events. (A feed that fills
before that is replaced by a new one and the log is read again: catching up is paced by the
client.) The events still queued are dropped; the trailing metadata ``nestr-resume-after-seq``
carries the ``seq`` of the last event handed to gRPC, which is where a new ``Subscribe`` must
start to get every event exactly once. A server that drains (:mod:`nestr.server.drain`) ends
every stream the same way with UNAVAILABLE: the client subscribes again, to the next server,
from that ``seq``.

``Publish`` takes the events of other processes (the steps a Temporal worker ran) into the log,
each once by its id (:mod:`nestr.store.eventintake`), after :mod:`nestr.server.published` has
checked them; streams then deliver them as they deliver the server's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio

from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.server.details import overflow_details, status_metadata
from nestr.server.errors import mapped
from nestr.server.eventcache import EventCache
from nestr.server.eventproto import BATCH_BYTES, add_events, extend_events, to_proto
from nestr.server.hub import EventHub, Feed, Where
from nestr.server.published import published
from nestr.server.retention import gap_notice

if TYPE_CHECKING:
    from nestr.config.settings import StreamSettings
    from nestr.session import Session
    from nestr.store.eventrows import StoredEvent

RESUME_KEY = "nestr-resume-after-seq"
PAGE_DEFAULT = 500
PAGE_MAX = 10_000


@dataclass(frozen=True)
class StreamLimits:
    """How a subscription behaves: heartbeat period (s), queue bound and batch size (events)
    (the ``server.stream.*`` settings)."""

    heartbeat: float = 5.0
    queue: int = 10_000
    batch: int = 500

    @classmethod
    def from_settings(cls, settings: StreamSettings) -> StreamLimits:
        return cls(heartbeat=settings.heartbeat, queue=settings.queue, batch=settings.batch)


class EventService(pb_grpc.EventServiceServicer):
    """Serves the event log of ``session``; ``active`` counts open streams, ``overflows`` the
    subscribers that overflowed (when it happens: the stream ends once the client takes what
    was already sent)."""

    def __init__(self, session: Session, limits: StreamLimits) -> None:
        self.session = session
        self.limits = limits
        self.overflows = 0
        self.cache = EventCache()  # every event as a message, converted once for all streams
        self.hub = EventHub(session, to_proto, self.cache)  # the one follower of the log
        self.draining = False
        self._subscribers: set[_Subscriber] = set()

    @property
    def active(self) -> int:
        """Open ``Subscribe`` streams."""
        return len(self._subscribers)

    def apply_limits(self, limits: StreamLimits) -> None:
        """Use ``limits`` from now on: for new streams, and for the open ones from their next
        batch (a stream waiting for events is woken to start its heartbeat period again)."""
        self.limits = limits
        for subscriber in self._subscribers:
            subscriber.apply(limits)

    async def Subscribe(
        self, request: pb.SubscribeRequest, context: aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.SubscribeResponse]:
        subscriber = _Subscriber(self, request)
        # the cursor's events were pruned: say so first; the replay goes on from the oldest
        gap = None if request.live_only else gap_notice(self.session, request.after_seq)
        self._subscribers.add(subscriber)
        if self.draining:  # it passed the gate just before the drain began
            subscriber.stop()
        try:
            if gap is not None:
                yield pb.SubscribeResponse(gap=gap)
            async for response in subscriber.responses():
                yield response
        finally:
            self._subscribers.discard(subscriber)
            subscriber.close()
        if subscriber.stopped:
            context.set_trailing_metadata(((RESUME_KEY, str(subscriber.sent)),))
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                "the server is shutting down; "
                f"subscribe again (to the next server) with after_seq={subscriber.sent}",
            )
        if subscriber.overflowed:
            code = grpc.StatusCode.RESOURCE_EXHAUSTED
            message = (
                f"subscriber fell more than {subscriber.limits.queue} events behind; "
                f"subscribe again with after_seq={subscriber.sent}"
            )
            details = status_metadata(code, message, overflow_details(subscriber.sent))
            trailing = ((RESUME_KEY, str(subscriber.sent)), *details)
            await context.abort(code, message, trailing_metadata=trailing)

    def count_overflow(self) -> None:
        self.overflows += 1

    def drain(self) -> None:
        """End every open stream with UNAVAILABLE and the ``seq`` to resume from."""
        self.draining = True
        for subscriber in self._subscribers:
            subscriber.stop()

    def backlog(self) -> int:
        """Events queued for the slowest open stream (the metrics endpoint reads it)."""
        return max((len(feed.items) for feed in list(self.hub.feeds)), default=0)

    async def GetEvents(
        self, request: pb.GetEventsRequest, context: aio.ServicerContext[Any, Any]
    ) -> pb.GetEventsResponse:
        limit = min(request.limit or PAGE_DEFAULT, PAGE_MAX)
        page, next_after, end = self.session.stored_event_page(
            after_seq=request.after_seq,
            limit=limit,
            type_prefixes=tuple(request.types),
            run_id=request.run_id or None,
            repo=request.repo or None,
        )
        # read after the page: a prune in between is reported (as a gap), never hidden
        oldest = self.session.event_oldest()
        response = pb.GetEventsResponse(next_after_seq=next_after, end=end, oldest_seq=oldest)
        added = add_events(response.events, page)
        if added < len(page):  # the page's bytes were enough: the rest comes with the next one
            response.next_after_seq, response.end = page[added - 1].seq, False
        return response

    async def Head(
        self, request: pb.HeadRequest, context: aio.ServicerContext[Any, Any]
    ) -> pb.HeadResponse:
        return pb.HeadResponse(head_seq=self.session.event_head())

    @mapped
    async def Publish(
        self, request: pb.PublishRequest, context: aio.ServicerContext[Any, Any]
    ) -> pb.PublishResponse:
        """Take a worker's events into the log, once each by id; the hub's follower sees the
        commit (another connection's) and fans them out like any event."""
        intake = self.session.receive_events(published(request.events))
        return pb.PublishResponse(
            stored=intake.stored, duplicates=intake.duplicates, head_seq=intake.head
        )


class _Subscriber:
    """One stream: its cursor in the log, its feed from the hub, and what was sent."""

    def __init__(self, service: EventService, request: pb.SubscribeRequest) -> None:
        self.session = service.session
        self.hub = service.hub
        self.cache = service.cache
        self.limits = service.limits
        self.where = Where(tuple(request.types), request.run_id or None, request.repo or None)
        self.on_overflow = service.count_overflow
        self.feed = self._register()  # before the log is read: nothing falls in between
        # replay up to the head of now; live_only: from the head of now
        self.replay_head = self.session.event_head()
        self.cursor = self.replay_head if request.live_only else request.after_seq
        self.sent = self.cursor  # seq of the last event handed to gRPC: where to resume
        self.replaying = not request.live_only
        self.caught_up = False  # delivered a live event and then found the feed empty
        self.overflowed = False
        self.stopped = False  # the server drains: the stream ends with a resume point

    def _register(self) -> Feed:
        feed = Feed(self.where, self.limits.queue, self._feed_overflowed)
        self.hub.register(feed)
        return feed

    def apply(self, limits: StreamLimits) -> None:
        """New limits: the feed's bound at once (a backlog beyond it overflows with the next
        event), batch size and heartbeat from the next batch."""
        self.limits = limits
        self.feed.maxsize = limits.queue
        self.feed.wake()

    def _feed_overflowed(self) -> None:
        if self.caught_up:  # still catching up: the log is read again instead
            self.overflowed = True
            self.on_overflow()

    def stop(self) -> None:
        """End the stream at its next step (a waiting one at once)."""
        self.stopped = True
        self.feed.close()

    async def responses(self) -> AsyncIterator[pb.SubscribeResponse]:
        """Batches as events become ready, heartbeats when idle; ends on overflow or stop."""
        while not self.stopped:
            if self.replaying:
                response: pb.SubscribeResponse | None = self._replay_batch()
            else:
                if self.feed.overflowed:
                    if self.overflowed:
                        return
                    self._catch_up_again()
                    continue
                if self.sent > self.replay_head and not self.feed.items:
                    self.caught_up = True
                response = await self._live_batch()
            if response is None:
                yield self._heartbeat()
            elif response.batch.events:
                self.sent = response.batch.events[-1].seq
                yield response

    def _replay_batch(self) -> pb.SubscribeResponse:
        """The next page of matching stored events after the cursor (converted once for the
        whole server: the cache); the replay ends at the head (everything after it is in the
        feed)."""
        seqs, next_after, end = self.session.event_seq_page(
            after_seq=self.cursor,
            limit=self.limits.batch,
            type_prefixes=self.where.types,
            run_id=self.where.run_id,
            repo=self.where.repo,
        )
        page = self.cache.messages(seqs, self._stored)
        response = pb.SubscribeResponse()
        added = extend_events(response.batch.events, page)
        if added < len(page):  # the rest of the page is read again for the next batch
            next_after, end = response.batch.events[-1].seq, False
        self.cursor = next_after
        self.replaying = not end
        return response

    def _stored(self, after_seq: int, until_seq: int) -> list[StoredEvent]:
        return self.session.stored_events(
            after_seq=after_seq,
            until_seq=until_seq,
            type_prefixes=self.where.types,
            run_id=self.where.run_id,
            repo=self.where.repo,
        )

    def _catch_up_again(self) -> None:
        """The feed overflowed while the client was catching up: a new feed, then the log."""
        self.hub.unregister(self.feed)
        self.feed = self._register()
        self.replaying = True

    async def _live_batch(self) -> pb.SubscribeResponse | None:
        """Up to ``batch`` queued events after the cursor (and about :data:`BATCH_BYTES`);
        empty when the feed overflowed; None after a heartbeat period without one."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        feed = self.feed
        while True:
            if feed.error is not None:
                raise feed.error
            if feed.overflowed or feed.closed:
                return pb.SubscribeResponse()
            response = pb.SubscribeResponse()
            events = response.batch.events
            size = 0
            while feed.items and len(events) < self.limits.batch and size < BATCH_BYTES:
                item = feed.items.popleft()
                if item.seq > self.cursor:  # at or below: already read from the log
                    self.cursor = item.seq
                    events.append(item.proto)
                    size += item.size
            if events:
                return response
            # read each time: a reload may have changed it meanwhile (and woken the feed)
            remaining = started + self.limits.heartbeat - loop.time()
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
