"""One follower of the event log per server, fanned out to every ``Subscribe`` stream.

The hub runs a single task that follows the session's log (this process's events through its
bus, other processes' through one ``data_version`` poll every :data:`POLL` seconds), converts
each event to its protobuf form once, and offers it to the :class:`Feed` of every registered
subscriber whose filter it matches. Offering never waits: a full feed is marked overflowed and
dropped from the hub, and its subscriber decides what that means (catch up again from the log,
or end the stream).

A subscriber registers its feed *first* and only then reads the log from its cursor: an event
committed meanwhile is then in the log read or in the feed (or both, and the subscriber skips
what it already has by ``seq``), never in neither. The follower runs while at least one feed is
registered; an idle subscriber costs the hub nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nestr.server.eventproto import ENVELOPE_BYTES

if TYPE_CHECKING:
    from nestr.events import Event
    from nestr.server._proto import events_pb2 as pb
    from nestr.server.eventcache import EventCache
    from nestr.session import Session


# seconds between checks for other processes' commits: one cheap statement for the whole
# server, so it can be asked often (events of this process arrive through the bus at once)
POLL = 0.01


@dataclass(frozen=True, slots=True)
class Shared:
    """An event as the hub hands it out: its protobuf form and the envelope fields filters
    look at."""

    seq: int
    type: str
    run_id: str | None
    repo: str | None
    proto: pb.Event
    size: int  # about its bytes in a batch


@dataclass(frozen=True)
class Where:
    """Which events a subscriber wants: types starting with one of ``types`` (all when empty),
    of run ``run_id`` and about repo ``repo`` (each when given)."""

    types: tuple[str, ...] = ()
    run_id: str | None = None
    repo: str | None = None

    def matches(self, item: Shared) -> bool:
        if self.types and not item.type.startswith(self.types):
            return False
        if self.run_id is not None and item.run_id != self.run_id:
            return False
        return self.repo is None or item.repo == self.repo


class Feed:
    """A subscriber's bounded queue of shared events, filled by the hub without waiting."""

    def __init__(self, where: Where, maxsize: int, on_overflow: Callable[[], None]) -> None:
        self.where = where
        self.maxsize = maxsize
        self.on_overflow = on_overflow
        self.items: deque[Shared] = deque()
        self.overflowed = False
        self.error: BaseException | None = None  # what ended the hub's follower, if anything
        self.closed = False  # its stream is ending: a waiter returns at once
        self._ready = asyncio.Event()

    def offer(self, item: Shared) -> bool:
        """Queue ``item`` if it matches; False once the feed overflowed (the hub drops it)."""
        if not self.where.matches(item):
            return True
        if len(self.items) >= self.maxsize:
            self.overflowed = True
            self._ready.set()
            self.on_overflow()
            return False
        self.items.append(item)
        self._ready.set()
        return True

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._ready.set()

    def close(self) -> None:
        """Wake the stream waiting on this feed for good (the server drains)."""
        self.closed = True
        self._ready.set()

    def wake(self) -> None:
        """End a :meth:`wait` early (its subscriber's limits changed)."""
        self._ready.set()

    async def wait(self, timeout: float) -> None:
        """Until something is queued (or the feed overflowed, failed or closed), at most
        ``timeout`` seconds."""
        if self.items or self.overflowed or self.error is not None or self.closed:
            return
        self._ready.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):  # no task of its own, unlike wait_for
                await self._ready.wait()


class EventHub:
    """The server's single follower of the event log; ``follows`` counts the follower tasks
    started (one while any subscriber is registered, however many there are)."""

    def __init__(
        self,
        session: Session,
        to_proto: Callable[[Event], pb.Event],
        cache: EventCache | None = None,
    ) -> None:
        self.session = session
        self.to_proto = to_proto
        self.cache = cache  # keeps each converted event for streams that replay it
        self.feeds: list[Feed] = []
        self.follows = 0
        self._task: asyncio.Task[None] | None = None

    def register(self, feed: Feed) -> None:
        """Offer ``feed`` every event appended from now on (starts the follower if needed)."""
        self.feeds.append(feed)
        if self._task is None:
            self.follows += 1
            # everything after the head of now: no feed registered before this point
            self._task = asyncio.create_task(self._follow(self.session.event_head()))

    def unregister(self, feed: Feed) -> None:
        """Stop offering to ``feed``; the follower stops with the last feed."""
        with contextlib.suppress(ValueError):
            self.feeds.remove(feed)
        if not self.feeds and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _follow(self, after: int) -> None:
        try:
            async for event in self.session.follow_events(since=after, poll=POLL):
                self._fan_out(event)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # every subscriber's stream ends with it
            for feed in self.feeds:
                feed.fail(error)
            self.feeds.clear()
            self._task = None

    def _fan_out(self, event: Event) -> None:
        proto = self.to_proto(event)
        size = len(proto.data_json) + ENVELOPE_BYTES
        item = Shared(event.seq or 0, event.type, event.run_id, event.repo, proto, size)
        if self.cache is not None:
            self.cache.put(item.seq, proto, size)
        full = [feed for feed in self.feeds if not feed.offer(item)]
        for feed in full:
            self.feeds.remove(feed)
