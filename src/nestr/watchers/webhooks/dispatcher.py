"""The webhook dispatcher: follow the event log into the outbox, deliver the outbox.

One feeder follows the log (replay from the lowest endpoint cursor, then live: the same
follower as ``nestr events --follow``) and puts each event an endpoint wants in the outbox,
moving that endpoint's cursor in the same transaction; one worker per endpoint sends its
pending deliveries one at a time in ``seq`` order, waiting out the backoff of the head of its
queue (so order holds across retries). Events of the ``nestr.webhook.`` family, which the
dispatcher itself emits, are never delivered: no feedback loop. ``nestr serve`` runs a
dispatcher when webhooks are configured, ``nestr webhooks run`` runs one alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nestr.events.catalog import (
    WEBHOOK_DELIVERED,
    WEBHOOK_DISABLED,
    WEBHOOK_FAILED,
    WEBHOOK_PREFIX,
    EventType,
    WebhookDelivery,
)
from nestr.store.eventlog import open_event_log
from nestr.watchers.webhooks import outbox
from nestr.watchers.webhooks.policy import Answer, backoff, verdict
from nestr.watchers.webhooks.sender import Sender
from nestr.watchers.webhooks.signing import signed_headers

if TYPE_CHECKING:
    from nestr.config.settings import WebhookEndpoint
    from nestr.events.bus import EventBus
    from nestr.events.envelope import Event

LOCK_FILE = "webhooks.lock"  # in the state dir: held by the one dispatcher that delivers
STANDBY_POLL = 1.0  # seconds between two tries of a waiting dispatcher to take the lock
IDLE = 1.0  # seconds an idle worker waits before looking at the store again (redeliver, enable)
TIDY_EVERY = 600.0  # seconds between two deletions of deliveries whose event was pruned
YIELD_EVERY = 500  # events the feeder reads before it lets the batch be written


def wants(endpoint: WebhookEndpoint, event: Event) -> bool:
    """Whether ``endpoint`` gets ``event``: its type filter, and never a webhook event."""
    if event.type.startswith(WEBHOOK_PREFIX):
        return False
    return not endpoint.types or event.type.startswith(endpoint.types)


class Dispatcher:
    """Delivers the events of the log in ``state_dir`` to ``endpoints`` until stopped."""

    def __init__(
        self,
        endpoints: Sequence[WebhookEndpoint],
        *,
        state_dir: Path,
        bus: EventBus,
        poll: float = 0.05,
        rng: random.Random | None = None,
        on_standby: Callable[[], None] | None = None,
    ) -> None:
        self.endpoints = tuple(endpoints)
        self.state_dir = state_dir
        self.on_standby = on_standby
        self.bus = bus
        self.poll = poll
        self.rng = rng or random.Random()
        self.log = open_event_log(state_dir)  # a connection of its own: it sees others' commits
        self.db = self.log.db
        self._cursors: dict[str, int] = {}
        self._wakes: dict[str, asyncio.Event] = {}
        self._incoming: list[Event] = []
        self._arrived = asyncio.Event()
        self._ending = False
        self._unsaved: int | None = None  # a cursor position only held in memory

    async def run(self, stop: asyncio.Event) -> None:
        """Feed and deliver until ``stop`` is set; a try underway then is finished and
        recorded first (at most ``timeout`` seconds). A dispatcher killed mid-try leaves it
        pending: the next one sends it again, with the same ``webhook-id``.

        One dispatcher per store delivers: while another process holds the store's
        ``webhooks.lock``, this one waits (``on_standby`` is told once) and takes over when
        that process ends, so two never send the same delivery at once.
        """
        lock = await self._take_lock(stop)
        if lock is None:
            self.log.close()
            return
        try:
            await self._dispatch(stop)
        finally:
            os.close(lock)  # releases the lock

    async def _take_lock(self, stop: asyncio.Event) -> int | None:
        """The descriptor holding the store's dispatcher lock; None if stopped first."""
        fd = os.open(self.state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if not told and self.on_standby is not None:
                    self.on_standby()
                told = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STANDBY_POLL)
            if stop.is_set():
                os.close(fd)
                return None

    async def _dispatch(self, stop: asyncio.Event) -> None:
        self.register()
        following = asyncio.create_task(self._follow())
        feeding = asyncio.create_task(self._feed())
        workers = [asyncio.create_task(self._work(e)) for e in self.endpoints]
        stopped = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait(
                [stopped, following, feeding, *workers], return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                task.result()  # a task that ended on its own failed: raise its error
            self._end()
            await asyncio.gather(following, *workers)
        finally:
            # The follower and the workers end on `_ending` by themselves, not by a cancel: a
            # cancel of asyncio.wait_for can be lost on Python 3.11 (a wakeup racing it).
            self._end()
            for task in (feeding, stopped):
                task.cancel()
            await asyncio.gather(following, feeding, *workers, stopped, return_exceptions=True)
            if self._unsaved is not None:  # the cursors moved past events nobody wanted
                outbox.enqueue(self.db, {e.name: () for e in self.endpoints}, self._unsaved)
            self.log.close()

    def _end(self) -> None:
        self._ending = True
        for wake in self._wakes.values():
            wake.set()

    def register(self) -> None:
        """Load the cursors of the endpoints; one seen for the first time starts at the log's
        head now (it gets the events from then on). An endpoint disabled at another URL than
        the one configured now is enabled again (a new receiver). ``run`` calls it once it
        holds the lock (the cursors are then those the last dispatcher left)."""
        outbox.forget_pruned(self.db)
        head = self.log.head()
        for endpoint in self.endpoints:
            state = outbox.endpoint_state(self.db, endpoint.name, start=head)
            if state.disabled is not None and not state.disabled_at(endpoint.url):
                outbox.enable(self.db, endpoint.name)
            self._cursors[endpoint.name] = state.cursor
            self._wakes.setdefault(endpoint.name, asyncio.Event())

    async def _follow(self) -> None:
        start = min(self._cursors.values(), default=self.log.head())
        count = 0
        follower = self.log.follow(
            start, bus=self.bus, stop=lambda: self._ending, poll_interval=self.poll
        )
        async for event in follower:
            self._incoming.append(event)
            self._arrived.set()
            count += 1
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a long replay is written in batches, not held

    async def _feed(self) -> None:
        tidied = time.monotonic()
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            events, self._incoming = self._incoming, []
            if events:
                self._enqueue(events)
            if time.monotonic() - tidied > TIDY_EVERY:
                outbox.forget_pruned(self.db)
                tidied = time.monotonic()

    def _enqueue(self, events: list[Event]) -> None:
        last = max(e.seq or 0 for e in events)
        batches = {
            e.name: [ev for ev in events if (ev.seq or 0) > self._cursors[e.name] and wants(e, ev)]
            for e in self.endpoints
        }
        # A batch nobody wants (the dispatcher's own nestr.webhook.* events, mostly) moves the
        # cursors in memory only: after a restart those events are looked at and skipped again.
        if any(batches.values()):
            outbox.enqueue(self.db, batches, last)
            self._unsaved = None
        else:
            self._unsaved = last
        for endpoint in self.endpoints:
            self._cursors[endpoint.name] = max(self._cursors[endpoint.name], last)
            if batches[endpoint.name]:
                self._wakes[endpoint.name].set()

    async def _work(self, endpoint: WebhookEndpoint) -> None:
        sender = Sender(endpoint.url, endpoint.timeout)
        wake = self._wakes[endpoint.name]
        try:
            while not self._ending:
                wake.clear()  # before the store is read: a wake from now on is not lost
                delay = await self._deliver_next(endpoint, sender)
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), delay)
        finally:
            sender.close()

    async def _deliver_next(self, endpoint: WebhookEndpoint, sender: Sender) -> float:
        """Make the next due try of ``endpoint``; seconds to wait before asking again."""
        delivery = outbox.next_pending(self.db, endpoint.name)
        if delivery is None:
            return IDLE
        due = delivery.next_attempt - time.time()
        if due > 0:
            return min(due, IDLE)
        attempt, body = outbox.start_attempt(self.db, delivery.id)
        secrets = [s.get_secret_value() for s in endpoint.secret]
        headers = signed_headers(secrets, delivery.webhook_id, int(time.time()), body)
        answer = await asyncio.to_thread(sender.post, body, headers)
        self._record(endpoint, delivery, attempt, answer, _correlation(body))
        return 0

    def _record(
        self,
        endpoint: WebhookEndpoint,
        delivery: outbox.Delivery,
        attempt: int,
        answer: Answer,
        correlation_id: str | None = None,
    ) -> None:
        """Store how the try ended with the event that reports it, then publish that."""
        outcome = verdict(answer, attempt, endpoint.max_attempts)
        data = WebhookDelivery(
            endpoint=endpoint.name,
            status=answer.status,
            attempt=attempt,
            event_seq=delivery.event_seq,
        )
        error = None if outcome == "delivered" else answer.describe()
        kind: EventType[WebhookDelivery] = WEBHOOK_DELIVERED
        retry_at: float | None = None
        status: outbox.Status = "pending"
        if outcome == "delivered":
            status = "delivered"
        elif outcome == "disable":
            kind = WEBHOOK_DISABLED
            outbox.disable(self.db, endpoint.name, url=endpoint.url, reason=answer.describe())
        else:
            kind = WEBHOOK_FAILED
            data["error"], data["final"] = answer.describe(), outcome == "dead"
            if outcome == "dead":
                status = "failed"
            else:
                wait = backoff(
                    attempt, initial=endpoint.backoff, cap=endpoint.backoff_max, rng=self.rng
                )
                retry_at = time.time() + wait
        fields: dict[str, Any] = {"subject": endpoint.name}
        if correlation_id is not None:  # the action whose event this was; else the current
            fields["correlation_id"] = correlation_id
        if kind is not WEBHOOK_DELIVERED:
            fields["severity"] = "warning"
        event = outbox.finish(
            self.db,
            delivery.id,
            status=status,
            http_status=answer.status,
            error=error,
            retry_at=retry_at,
            event=kind.event(data, **fields),
        )
        self.bus.publish(event)


def _correlation(body: bytes) -> str | None:
    """The correlation id of the event a body carries (the action it belongs to)."""
    value = json.loads(body).get("correlationid")
    return value if isinstance(value, str) else None
