"""Rows of the ``events`` table: the durable log's storage (``nestr.events.log`` is its face)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from nestr.events.envelope import Event

_FIELDS = tuple(f.name for f in dataclasses.fields(Event) if f.name != "seq")
_INSERT = "INSERT INTO events (type, run_id, body) VALUES (?, ?, ?)"
_ENCODE = json.JSONEncoder(default=str).encode  # what json.dumps(x, default=str) does


def insert_event(conn: sqlite3.Connection, event: Event) -> Event:
    """Append ``event`` inside the caller's transaction and return it with its ``seq``."""
    cursor = conn.execute(_INSERT, (event.type, event.run_id, _body(event)))
    seq = cursor.lastrowid
    assert seq is not None
    return event.with_seq(seq)


def _body(event: Event) -> str:
    # Event.to_dict() without asdict()'s deep copy, and one encoder for every call instead of
    # the one json.dumps(default=...) builds each time: this runs twice per step.
    fields = {name: getattr(event, name) for name in _FIELDS}
    fields["time"] = event.time.isoformat()
    return _ENCODE(fields)


def select_events(
    conn: sqlite3.Connection,
    *,
    since_seq: int = 0,
    type_prefix: str | None = None,
    run_id: str | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Events with ``seq > since_seq`` in order, filtered by type prefix and run."""
    sql = "SELECT seq, body FROM events WHERE seq > ?"
    params: list[Any] = [since_seq]
    if type_prefix:
        sql += " AND substr(type, 1, ?) = ?"
        params += [len(type_prefix), type_prefix]
    if run_id:
        sql += " AND run_id = ?"
        params.append(run_id)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_event(row) for row in conn.execute(sql, params).fetchall()]


def _event(row: Sequence[Any]) -> Event:
    raw = json.loads(row[1])
    raw["seq"] = row[0]
    return Event.from_dict(raw)


def head_seq(conn: sqlite3.Connection) -> int:
    """The highest ``seq`` stored (0 when the log is empty)."""
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
