"""Events other processes made, taken into this log once each (``EventService.Publish``).

A Temporal worker forwards the events of its steps to the server's log, and sends a batch again
when the reply to it was lost. Each event taken in leaves its id in ``received_events`` (keyed
by the ``seq`` it got here) in the same transaction as the event itself, and an id found there
is skipped, so a batch sent twice is stored once, whatever the two sends raced. Retention
deletes the ids with their events (:mod:`nestr.store.eventprune`): a send is recognised as long
as the log keeps what it sent. Events made here never enter the table: it costs only intake.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from nestr.events.envelope import Event
from nestr.store.db import Database
from nestr.store.eventrows import head_seq, insert_events

_IDS_PER_SELECT = 500  # bound variables per lookup: under SQLite's historical limit of 999


@dataclass(frozen=True)
class Intake:
    """What taking a batch in did: events appended, events already there, the head after."""

    stored: int
    duplicates: int
    head: int


def receive_events(db: Database, events: Sequence[Event]) -> Intake:
    """Append the events of ``events`` whose id this log has not taken in yet, in order, in
    one transaction; each gets this log's ``seq`` (any it carries is ignored)."""
    with db.transaction() as conn:
        fresh = _unseen(conn, events)
        numbered = insert_events(conn, fresh)
        conn.executemany(
            "INSERT INTO received_events (seq, id) VALUES (?, ?)",
            [(event.seq, event.id) for event in numbered],
        )
        return Intake(len(numbered), len(events) - len(numbered), head_seq(conn))


def _unseen(conn: sqlite3.Connection, events: Sequence[Event]) -> list[Event]:
    """``events`` without those whose id is taken in already, or came earlier in the batch."""
    ids = list(dict.fromkeys(event.id for event in events))
    seen: set[str] = set()
    for first in range(0, len(ids), _IDS_PER_SELECT):
        chunk = ids[first : first + _IDS_PER_SELECT]
        marks = ", ".join("?" * len(chunk))  # placeholders only: the ids are bound
        rows = conn.execute(f"SELECT id FROM received_events WHERE id IN ({marks})", chunk)  # noqa: S608
        seen.update(row[0] for row in rows)
    fresh: list[Event] = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            fresh.append(event)
    return fresh
