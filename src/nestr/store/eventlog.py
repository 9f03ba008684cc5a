"""The durable event log: every event gets a gap-free ``seq`` in ``<state_dir>/nestr.db``.

:class:`EventLog` is the :class:`~nestr.events.bus.EventSink` of a bus: an event is appended
(committed) before any subscriber sees it. An event that already carries a ``seq`` was appended
by the store in the same transaction as the state change it reports (a step finishing), so
``append`` hands it back unchanged instead of storing it twice. Readers in other processes
follow the log by polling ``PRAGMA data_version``, which changes only when someone commits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from nestr.events.bus import EventBus
from nestr.events.envelope import Event
from nestr.store.db import Database, open_database
from nestr.store.eventrows import head_seq, insert_event, select_events

DEFAULT_POLL = 0.1


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
        type_prefix: str | None = None,
        run_id: str | None = None,
        *,
        limit: int | None = None,
    ) -> list[Event]:
        """Events with ``seq`` greater than ``since_seq``, oldest first."""
        with self.db.reading() as conn:
            return select_events(
                conn, since_seq=since_seq, type_prefix=type_prefix, run_id=run_id, limit=limit
            )

    def head(self) -> int:
        """The last ``seq`` appended (0 if none)."""
        with self.db.reading() as conn:
            return head_seq(conn)

    def follow(
        self,
        since_seq: int = 0,
        type_prefix: str | None = None,
        run_id: str | None = None,
        *,
        poll_interval: float = DEFAULT_POLL,
        stop: Callable[[], bool] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[Event]:
        """Yield stored events after ``since_seq``, then new ones as any process appends them.

        Ends when ``stop()`` returns true (asked on each poll) or the consumer stops.
        ``data_version`` sees commits of *other* connections only: follow with a log opened
        for the purpose, not with the connection that writes.
        """
        last = since_seq
        version: int | None = None
        while True:
            # stop() is asked before reading, so whatever was committed when it said "stop"
            # is still delivered
            stopping = stop is not None and stop()
            current = self.db.data_version()  # read first: a later commit changes it again
            if current != version:
                version = current
                batch = self.read(last, type_prefix, run_id, limit=1000)
                while batch:
                    for event in batch:
                        last = event.seq or last
                        yield event
                    batch = self.read(last, type_prefix, run_id, limit=1000)
            if stopping:
                return
            sleep(poll_interval)

    def close(self) -> None:
        self.db.close()


def open_event_log(state_dir: Path) -> EventLog:
    """The durable log in ``<state_dir>/nestr.db`` (created if missing)."""
    return EventLog(open_database(state_dir))


def open_event_bus(state_dir: Path) -> EventBus:
    """An :class:`EventBus` whose events are made durable in ``state_dir``'s log first."""
    return EventBus(sink=open_event_log(state_dir))
