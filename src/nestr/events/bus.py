"""In-process fan-out of events to subscribers that never block the publisher.

Each subscriber owns a bounded queue. When it falls behind and its queue is full, it is
disconnected: it still drains what it holds, then gets :class:`SubscriberOverflow` naming the
``seq`` to resume from, and catches up from the durable log. Publishing is ordered: with a sink
(the durable log) each event is appended, and given its ``seq``, before any subscriber sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any, Protocol, cast

from nestr.events.catalog import D, EventType
from nestr.events.envelope import Event
from nestr.observability.context import current_correlation_id
from nestr.observability.logging import get_logger
from nestr.observability.tracing import traceparent
from nestr.redaction import redact_data

log = get_logger("nestr.events")

DEFAULT_QUEUE_SIZE = 1024


class EventSink(Protocol):
    """Where events are made durable before fan-out (the event log)."""

    def append(self, event: Event) -> Event:
        """Store ``event`` and return it with its ``seq`` set."""
        ...


class SubscriberOverflow(Exception):
    """The subscriber fell behind and was disconnected; resume from the log at ``resume_from``."""

    def __init__(self, resume_from: int, lost: int) -> None:
        super().__init__(
            f"subscriber fell behind and lost {lost} events; resume from seq {resume_from}"
        )
        self.resume_from = resume_from
        self.lost = lost


class Subscription:
    """A bounded queue of events for one subscriber; iterate it (sync or async) to consume."""

    def __init__(self, bus: EventBus, maxsize: int, type_prefix: str | None) -> None:
        self.maxsize = maxsize
        self.type_prefix = type_prefix
        self._bus = bus
        self._items: deque[Event] = deque()
        self._cond = threading.Condition()
        self._overflowed = False
        self._closed = False
        self._lost = 0
        self._last_seq = 0
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._wakeup = asyncio.Event() if self._loop else None

    def wants(self, event: Event) -> bool:
        return self.type_prefix is None or event.type.startswith(self.type_prefix)

    def offer(self, event: Event) -> None:
        """Queue ``event`` without blocking; overflow disconnects this subscriber."""
        with self._cond:
            if self._closed:
                return
            if self._overflowed or len(self._items) >= self.maxsize:
                if not self._overflowed:
                    self._overflowed = True
                    self._bus.unsubscribe(self)
                self._lost += 1
            else:
                self._items.append(event)
            self._cond.notify_all()
        self._wake()

    def _wake(self) -> None:
        if self._loop is None or self._wakeup is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._wakeup.set()
        else:
            # RuntimeError: the consumer's loop is closed, nobody is left to wake
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wakeup.set)

    def _take(self) -> Event | None:
        """Next event, or None if none yet; raises when disconnected and drained."""
        if self._items:
            event = self._items.popleft()
            if event.seq is not None:
                self._last_seq = event.seq
            return event
        if self._overflowed:
            raise SubscriberOverflow(self._last_seq + 1, self._lost)
        if self._closed:
            raise StopAsyncIteration
        return None

    def get(self, timeout: float | None = None) -> Event | None:
        """Block up to ``timeout`` seconds for the next event; None on timeout or close."""
        with self._cond:
            try:
                event = self._take()
                if event is None:
                    self._cond.wait(timeout)
                    event = self._take()
            except StopAsyncIteration:
                return None
            return event

    async def wait(self, timeout: float) -> Event | None:
        """The next event, or None when none came within ``timeout`` seconds (raises like
        :meth:`next` once disconnected or closed and drained)."""
        if self._wakeup is None:
            raise RuntimeError("subscribe from inside the event loop to consume asynchronously")
        with self._cond:
            event = self._take()
            if event is not None:
                return event
            self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        with self._cond:
            return self._take()

    async def next(self) -> Event:
        """Wait for the next event (raises StopAsyncIteration once closed and drained)."""
        if self._wakeup is None:
            raise RuntimeError("subscribe from inside the event loop to consume asynchronously")
        while True:
            with self._cond:
                event = self._take()
                if event is not None:
                    return event
                self._wakeup.clear()
            await self._wakeup.wait()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.next()

    def pending(self) -> int:
        with self._cond:
            return len(self._items)

    def close(self) -> None:
        """Stop receiving; consumers drain what is queued, then stop."""
        self._bus.unsubscribe(self)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._wake()


class EventBus:
    """Publishes events to a durable sink (if any), then to every subscriber and listener."""

    def __init__(self, sink: EventSink | None = None) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._listeners: list[Callable[[Event], None]] = []
        self._counter = itertools.count(1)

    def publish(self, event: Event) -> Event:
        """Make ``event`` durable (or number it), then fan it out. Never blocks on subscribers.

        A password in a URL anywhere in the event's data is replaced by ``***`` first: events
        are stored, streamed and printed, and repo URLs may carry credentials. An event without
        a correlation id gets the one of the action publishing it, and one without a
        ``traceparent`` that of the current span (when tracing).
        """
        data = redact_data(event.data)
        if data is not event.data:
            event = replace(event, data=data)
        if event.correlation_id is None and (cid := current_correlation_id()) is not None:
            event = replace(event, correlation_id=cid)
        if event.traceparent is None and (parent := traceparent()) is not None:
            event = replace(event, traceparent=parent)
        with self._lock:
            event = self._sink.append(event) if self._sink else event.with_seq(next(self._counter))
            subscribers = [s for s in self._subscriptions if s.wants(event)]
            listeners = list(self._listeners)
            for subscription in subscribers:
                subscription.offer(event)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a broken watcher must not break the work it watches
                log.exception("event listener failed", listener=repr(listener))
        return event

    def emit(self, type: EventType[D], data: D, **fields: Any) -> Event:
        """Build an event of a catalogued ``type`` (mypy checks ``data`` against its shape)
        and publish it."""
        fields.setdefault("correlation_id", current_correlation_id())  # spares publish a copy
        fields.setdefault("traceparent", traceparent())
        return self.publish(Event(type.name, cast("dict[str, Any]", data), **fields))

    def subscribe(
        self, *, maxsize: int = DEFAULT_QUEUE_SIZE, type_prefix: str | None = None
    ) -> Subscription:
        subscription = Subscription(self, maxsize, type_prefix)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        # Called with self._lock held from publish() → offer(); list.remove is atomic enough
        # under the GIL, and taking the lock here would deadlock.
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def add_listener(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` inline for every event; returns a function that removes it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove
