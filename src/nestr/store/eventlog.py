"""The durable event log: every event gets a gap-free ``seq`` in ``<state_dir>/nestr.db``.

:class:`EventLog` is the :class:`~nestr.events.bus.EventSink` of a bus: an event is appended
(committed) before any subscriber sees it. An event that already carries a ``seq`` was appended
by the store in the same transaction as the state change it reports (a step finishing), so
``append`` hands it back unchanged instead of storing it twice. :meth:`EventLog.follow` replays
the log from a cursor and then follows it live, from an in-process bus and from other
processes (``nestr.store.eventfollow``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nestr.events.bus import EventBus
from nestr.events.envelope import Event
from nestr.store.db import Database, open_database
from nestr.store.eventrows import (
    EventQuery,
    StoredEvent,
    head_seq,
    insert_event,
    oldest_seq,
    select_events,
    select_seqs,
    select_stored,
)

if TYPE_CHECKING:
    from nestr.store.eventprune import Pruned

DEFAULT_POLL = 0.05  # seconds between checks for commits of other processes


class EventLog:
    """Append and read events of one store; ``seq`` is the SQLite rowid (gap-free)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, event: Event) -> Event:
        """Store ``event`` in its own transaction and return it with its ``seq``."""
        if event.seq is not None:
            return event
        with self.db.transaction() as conn:
            return insert_event(conn, event)

    def read(
        self,
        since_seq: int = 0,
        type_prefix: str | Sequence[str] | None = None,
        run_id: str | None = None,
        *,
        repo: str | None = None,
        until_seq: int | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Events with ``seq`` greater than ``since_seq`` (and at most ``until_seq``), oldest
        first, filtered by type prefix(es), run and repo."""
        prefixes = (type_prefix,) if isinstance(type_prefix, str) else tuple(type_prefix or ())
        return self.read_events(EventQuery(since_seq, prefixes, run_id, repo, until_seq, limit))

    def read_events(self, query: EventQuery) -> list[Event]:
        """The events ``query`` selects."""
        with self.db.reading() as conn:
            return select_events(conn, query)

    def read_stored(self, query: EventQuery) -> list[StoredEvent]:
        """The events ``query`` selects, as stored: the data left as JSON text (for a reader
        that passes events on rather than looks into them)."""
        with self.db.reading() as conn:
            return select_stored(conn, query)

    def read_seqs(self, query: EventQuery) -> list[int]:
        """The seqs of the events ``query`` selects, from the index alone (but for a ``repo``
        filter, which looks into each body)."""
        with self.db.reading() as conn:
            return select_seqs(conn, query)

    def head(self) -> int:
        """The last ``seq`` appended (0 if none)."""
        with self.db.reading() as conn:
            return head_seq(conn)

    def oldest(self) -> int:
        """The oldest ``seq`` retained (0 if none): events below it were pruned."""
        with self.db.reading() as conn:
            return oldest_seq(conn)

    def prune(self, *, max_age: float | None = None, max_events: int | None = None) -> Pruned:
        """Delete the oldest events beyond the limits (see :mod:`nestr.store.eventprune`)."""
        from nestr.store.eventprune import prune_events

        return prune_events(self.db, max_age=max_age, max_events=max_events)

    def follow(
        self,
        after_seq: int | None = 0,
        *,
        bus: EventBus | None = None,
        type_prefixes: Sequence[str] = (),
        run_id: str | None = None,
        repo: str | None = None,
        stop: Callable[[], bool] | None = None,
        poll_interval: float = DEFAULT_POLL,
    ) -> AsyncIterator[Event]:
        """Events after ``after_seq`` (None: from now on), then new ones as they are appended.

        See :func:`nestr.store.eventfollow.follow`; follow with a log opened for the purpose,
        not with the one a bus writes through (SQLite tells a connection about commits of
        *other* connections only).
        """
        from nestr.store.eventfollow import Filter, follow

        where = Filter(tuple(type_prefixes), run_id, repo)
        return follow(self, after_seq, bus=bus, where=where, stop=stop, poll=poll_interval)

    def close(self) -> None:
        self.db.close()


def open_event_log(state_dir: Path) -> EventLog:
    """The durable log in ``<state_dir>/nestr.db`` (created if missing)."""
    return EventLog(open_database(state_dir))


def open_event_bus(state_dir: Path) -> EventBus:
    """An :class:`EventBus` whose events are made durable in ``state_dir``'s log first."""
    return EventBus(sink=open_event_log(state_dir))
