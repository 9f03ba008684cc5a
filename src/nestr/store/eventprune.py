"""Retention of the event log: delete the oldest events, never one in the middle, never the head.

``seq`` is the rowid of ``events`` (not AUTOINCREMENT-ed), so the next event takes
``max(seq) + 1``: the newest event is never deleted, or the numbers would start again and a
cursor would skip the new events. Everything below the *cut* goes, nothing at or above it, so
what is kept is always ``oldest..head`` without a hole. The cut is fixed first (by age: the
first event, in ``seq`` order, not older than the limit, so an event written with a clock a
little behind never splits the log); then the rows below it are deleted a chunk at a time, each
chunk in a transaction of its own, so writers of other processes wait at most for one chunk.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from nestr.store.db import Database
from nestr.store.eventrows import head_seq, oldest_seq

CHUNK = 5000  # rows per delete transaction: a few milliseconds of writers waiting


@dataclass(frozen=True)
class Pruned:
    """What a prune did: how many events it deleted and the oldest and newest ``seq`` kept."""

    deleted: int
    oldest: int
    head: int

    def to_dict(self) -> dict[str, int]:
        return {"deleted": self.deleted, "oldest_seq": self.oldest, "head_seq": self.head}


def prune_events(
    db: Database,
    *,
    max_age: float | None = None,
    max_events: int | None = None,
    now: datetime | None = None,
) -> Pruned:
    """Delete the events older than ``max_age`` seconds and all but the newest ``max_events``
    (each limit when given), oldest first; the newest event always stays."""
    with db.reading() as conn:
        cut = _cut(conn, max_age, max_events, now or datetime.now(UTC))
    deleted = 0
    while True:
        with db.transaction() as conn:
            oldest = oldest_seq(conn)
            end = min(cut, oldest + CHUNK)
            gone = conn.execute("DELETE FROM events WHERE seq < ?", (end,)).rowcount
            conn.execute("DELETE FROM received_events WHERE seq < ?", (end,))
        deleted += gone
        if end >= cut or gone == 0:
            break
    with db.reading() as conn:
        return Pruned(deleted, oldest_seq(conn), head_seq(conn))


def _cut(
    conn: sqlite3.Connection, max_age: float | None, max_events: int | None, now: datetime
) -> int:
    """The lowest ``seq`` to keep (the head at most; 0 when the log is empty)."""
    head = head_seq(conn)
    cut = oldest_seq(conn)
    if max_events is not None:
        cut = max(cut, head - max_events + 1)
    if max_age is not None:
        cutoff = (now - timedelta(seconds=max_age)).isoformat()
        # scans from the oldest and stops at the first event young enough: reads what it prunes
        row = conn.execute(
            "SELECT seq FROM events WHERE julianday(json_extract(body, '$.time')) >= "
            "julianday(?) ORDER BY seq LIMIT 1",
            (cutoff,),
        ).fetchone()
        cut = max(cut, head if row is None else int(row[0]))
    return min(cut, head)
