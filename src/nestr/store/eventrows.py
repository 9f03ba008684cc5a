"""Rows of the `events` table: the durable log's storage (`nestr.store.eventlog` is its face)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from nestr.events.envelope import Event
from nestr.redaction import redact_url

_INSERT = "INSERT INTO events (type, run_id, body) VALUES (?, ?, ?)"
_ROWS_PER_INSERT = 300  # 900 variables: under SQLite's historical limit of 999
_OPTIONAL = ("subject", "run_id", "step", "repo", "correlation_id", "traceparent")


# json.dumps(x, default=str, separators=(",", ":")) without building an encoder on each call
# (this runs twice per step); event data is built by nestr as plain JSON values, never circular
_ENCODE = json.JSONEncoder(default=str, separators=(",", ":"), check_circular=False).encode


def insert_event(conn: sqlite3.Connection, event: Event) -> Event:
    """Append ``event`` inside the caller's transaction and return it with its ``seq``."""
    cursor = conn.execute(_INSERT, (event.type, event.run_id, _body(event)))
    seq = cursor.lastrowid
    assert seq is not None
    return event.with_seq(seq)


def insert_events(conn: sqlite3.Connection, events: Sequence[Event]) -> list[Event]:
    """Append ``events`` in order with as few statements as the SQL variable limit allows."""
    numbered: list[Event] = []
    for first in range(0, len(events), _ROWS_PER_INSERT):
        chunk = events[first : first + _ROWS_PER_INSERT]
        params = [value for e in chunk for value in (e.type, e.run_id, _body(e))]
        seq = conn.execute(_INSERT + ", (?, ?, ?)" * (len(chunk) - 1), params).lastrowid
        assert seq is not None
        # Rows of one INSERT take consecutive rowids (each is max(rowid) + 1), in VALUES order.
        start = seq - len(chunk) + 1
        numbered += [e.with_seq(start + n) for n, e in enumerate(chunk)]
    return numbered


def _body(event: Event) -> str:
    """Event.to_dict() without ``seq`` as compact JSON, leaving out the optional fields that
    are None (reading fills them back in): two bodies per step are most of what a run writes."""
    fields: dict[str, Any] = {"type": event.type, "data": event.data}
    for name in _OPTIONAL:
        value = getattr(event, name)
        if value is not None:
            fields[name] = value
    fields["severity"] = event.severity
    fields["id"] = event.id
    fields["source"] = event.source
    fields["time"] = event.time.isoformat()
    return redact_url(_ENCODE(fields))  # no URL password is ever stored (run inputs, messages)


@dataclass(frozen=True)
class EventQuery:
    """Which events a read selects, in ``seq`` order: ``since_seq < seq <= until_seq``, whose
    type starts with one of ``type_prefixes`` (any type when empty), of run ``run_id`` and about
    repo ``repo`` (each filter when given), at most ``limit`` of them."""

    since_seq: int = 0
    type_prefixes: tuple[str, ...] = ()
    run_id: str | None = None
    repo: str | None = None
    until_seq: int | None = None
    limit: int | None = None

    def clause(self) -> tuple[str, list[Any]]:
        """The ``FROM … LIMIT`` part of the query and its parameters: every select of the
        log's rows ends with it, so they all select the same events."""
        sql = " FROM events WHERE seq > ?"
        params: list[Any] = [self.since_seq]
        prefixes = self.type_prefixes
        if prefixes:
            sql += " AND (" + " OR ".join(["substr(type, 1, ?) = ?"] * len(prefixes)) + ")"
            params += [value for p in prefixes for value in (len(p), p)]
        if self.run_id:
            sql += " AND run_id = ?"
            params.append(self.run_id)
        if self.repo:
            sql += " AND json_extract(body, '$.repo') = ?"
            params.append(self.repo)
        if self.until_seq is not None:
            sql += " AND seq <= ?"
            params.append(self.until_seq)
        sql += " ORDER BY seq"
        if self.limit is not None:
            sql += " LIMIT ?"
            params.append(self.limit)
        return sql, params


def select_events(conn: sqlite3.Connection, query: EventQuery) -> list[Event]:
    """The events ``query`` selects, decoded."""
    where, params = query.clause()
    return [_event(row) for row in conn.execute("SELECT seq, body" + where, params).fetchall()]


def select_seqs(conn: sqlite3.Connection, query: EventQuery) -> list[int]:
    """The seqs of the events ``query`` selects (no body is read but for ``repo``)."""
    where, params = query.clause()
    return [row[0] for row in conn.execute("SELECT seq" + where, params)]


class StoredEvent(NamedTuple):
    """An event as the log keeps it, its data still the JSON text it was stored as.

    For faces that pass events on (the gRPC stream): decoding the data only to encode it again
    was most of what a replay cost. Optional envelope fields are None when unset; ``time`` is
    RFC 3339 text with its offset.
    """

    seq: int
    id: str
    source: str
    type: str
    subject: str | None
    time: str
    run_id: str | None
    step: str | None
    repo: str | None
    correlation_id: str | None
    traceparent: str | None
    severity: str
    data_json: str


# SQLite picks the fields out of the body in C (parsing it once per row); an object comes out
# as its JSON text exactly as stored, which is what the encoder above wrote
_STORED = (
    "SELECT seq, "
    + ", ".join(f"json_extract(body, '$.{name}')" for name in StoredEvent._fields[1:-2])
    + ", coalesce(json_extract(body, '$.severity'), 'info')"
    + ", coalesce(json_extract(body, '$.data'), '{}')"
)


def select_stored(conn: sqlite3.Connection, query: EventQuery) -> list[StoredEvent]:
    """The events ``query`` selects, as the log stores them."""
    where, params = query.clause()
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: no sqlite3.Row to build per event
    try:
        return list(map(StoredEvent._make, cursor.execute(_STORED + where, params)))
    except sqlite3.OperationalError as error:
        # Python's encoder writes NaN and Infinity, which are no JSON to SQLite before 3.42:
        # a page holding one is decoded here instead, its data as the encoder writes it.
        if "malformed JSON" not in str(error):
            raise
    return [stored(event) for event in select_events(conn, query)]


def stored(event: Event) -> StoredEvent:
    """``event`` (numbered) as :func:`select_stored` reads it back."""
    assert event.seq is not None
    return StoredEvent(
        event.seq,
        event.id,
        event.source,
        event.type,
        event.subject,
        event.time.isoformat(),
        event.run_id,
        event.step,
        event.repo,
        event.correlation_id,
        event.traceparent,
        event.severity,
        _ENCODE(event.data),
    )


def _event(row: Sequence[Any]) -> Event:
    raw = json.loads(row[1])
    raw["seq"] = row[0]
    return Event.from_dict(raw)


def head_seq(conn: sqlite3.Connection) -> int:
    """The highest ``seq`` stored (0 when the log is empty)."""
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])


def oldest_seq(conn: sqlite3.Connection) -> int:
    """The lowest ``seq`` stored (0 when the log is empty): pruning removes the ones below it."""
    return int(conn.execute("SELECT coalesce(min(seq), 0) FROM events").fetchone()[0])
