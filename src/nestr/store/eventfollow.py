"""Replay the event log from a cursor, then follow it live: what the event stream and TUI serve.

The order of the steps is what makes it exact. The live subscription on the in-process bus is
registered *first*, then the log is replayed from the cursor, so an event published meanwhile
is either in the replay or in the queue, never in neither; anything at or below the cursor is
dropped, so never delivered twice. ``seq`` is global and given in commit order (writers take
SQLite's write lock in turn), so an in-process event whose ``seq`` is not the next one means
that other processes committed the ones in between: they are read from the log, in order,
before it. With nothing arriving, ``PRAGMA data_version`` is asked every ``poll`` seconds; it
changes only when another connection commits, so commits of other processes are seen within
one poll and an idle follower costs one cheap statement per poll. A subscriber that falls
behind is disconnected by the bus (its queue is bounded); the follower subscribes again and
catches up from the log, which holds everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nestr.events.bus import EventBus, SubscriberOverflow, Subscription
from nestr.events.envelope import Event

if TYPE_CHECKING:
    from nestr.store.eventlog import EventLog

BATCH = 1000  # events per read while catching up
QUEUE = 4096  # in-process events held for a follower before it must catch up from the log


@dataclass(frozen=True)
class Filter:
    """Which events a follower wants: types starting with one of ``type_prefixes`` (all when
    empty), of run ``run_id`` and about repo ``repo`` (each when given)."""

    type_prefixes: tuple[str, ...] = ()
    run_id: str | None = None
    repo: str | None = None

    def matches(self, event: Event) -> bool:
        if self.type_prefixes and not event.type.startswith(self.type_prefixes):
            return False
        if self.run_id is not None and event.run_id != self.run_id:
            return False
        return self.repo is None or event.repo == self.repo


async def follow(
    log: EventLog,
    after_seq: int | None = 0,
    *,
    bus: EventBus | None = None,
    where: Filter | None = None,
    stop: Callable[[], bool] | None = None,
    poll: float = 0.05,
    queue: int = QUEUE,
) -> AsyncIterator[Event]:
    """Yield the events after ``after_seq`` (None: only those appended from now on) that match
    ``where``, in ``seq`` order, then each new one as it is appended, until ``stop()`` is true.

    ``bus`` is this process's durable bus (its sink writes to the same database), whose
    events are delivered without waiting for a poll. ``stop`` is asked whenever the follower is
    idle; everything committed before it said "stop" is still delivered. Breaking out of the
    loop (or cancelling the task) also ends it cleanly.
    """
    follower = _Follower(log, bus, where or Filter(), after_seq, queue)
    try:
        async for event in follower.run(stop, poll):
            yield event
    finally:
        follower.close()


class _Follower:
    """The cursor (``last``: every event up to it was delivered or filtered out) and the queue."""

    def __init__(
        self, log: EventLog, bus: EventBus | None, where: Filter, after: int | None, queue: int
    ) -> None:
        self.log = log
        self.bus = bus
        self.where = where
        self.queue = queue
        self.subscription = self._subscribe()  # before anything is read from the log
        self.version = log.db.data_version()
        self.last = log.head() if after is None else after

    def _subscribe(self) -> Subscription | None:
        return self.bus.subscribe(maxsize=self.queue) if self.bus is not None else None

    def close(self) -> None:
        if self.subscription is not None:
            self.subscription.close()

    async def run(self, stop: Callable[[], bool] | None, poll: float) -> AsyncIterator[Event]:
        for caught in self._catch_up():
            yield caught
        while True:
            event = await self._next_live(poll)
            if event is not None:
                for caught in self._deliver(event):
                    yield caught
                continue
            stopping = stop is not None and stop()  # asked before reading: nothing is lost
            version = self.log.db.data_version()
            if version != self.version or stopping:
                self.version = version
                for caught in self._catch_up():
                    yield caught
            if stopping:
                return

    async def _next_live(self, poll: float) -> Event | None:
        """The next in-process event, or None after ``poll`` seconds without one."""
        if self.subscription is None:
            await asyncio.sleep(poll)
            return None
        try:
            return await self.subscription.wait(poll)
        except SubscriberOverflow:
            # fell behind: listen again first, then whatever was lost is read from the log
            self.subscription = self._subscribe()
            self.version = -1  # forces a catch-up on the next idle turn
            return None

    def _deliver(self, event: Event) -> Iterator[Event]:
        """What to yield for in-process ``event``: nothing if already past it, itself if it is
        the next ``seq``, else everything committed up to it, read from the log."""
        seq = event.seq
        if seq is None or seq <= self.last:
            return
        if seq == self.last + 1:
            self.last = seq
            if self.where.matches(event):
                yield event
            return
        yield from self._catch_up(until=seq)

    def _catch_up(self, until: int | None = None) -> Iterator[Event]:
        """Every matching event after the cursor up to ``until`` (default: the head), read
        from the log a batch at a time."""
        head = self.log.head() if until is None else until
        while self.last < head:
            batch = self.log.read(
                self.last,
                self.where.type_prefixes,
                self.where.run_id,
                repo=self.where.repo,
                until_seq=head,
                limit=BATCH,
            )
            # a full batch may stop short of head; a shorter one read everything up to it
            self.last = (batch[-1].seq or head) if len(batch) == BATCH else head
            yield from batch
