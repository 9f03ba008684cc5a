"""The audit trail's rows: who did what, appended to ``<state_dir>/nestr.db``, hash-chained.

Each record carries ``prev``, the ``hash`` of the record before it (64 zeros for the first),
and its own ``hash``: the SHA-256 (lower-case hex) of its **canonical form**, the UTF-8 bytes of
the JSON object of every field but ``hash`` — ``seq``, ``time``, ``actor``, ``face``, ``peer``,
``action``, ``target`` (an object), ``outcome``, ``error``, ``correlation_id``, ``prev`` —
with keys sorted, no whitespace (``","`` and ``":"``), non-ASCII characters as themselves
(``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)``). Values are
strings, integers, booleans, null, lists and objects only (no floats), so the form is also the
RFC 8785 (JCS) serialisation and another language reproduces it byte for byte.

:func:`append_record` reads the tail and inserts the next record inside the caller's write
transaction (``BEGIN IMMEDIATE``): SQLite serialises writers, so a CLI and a server appending at
once keep one chain. :mod:`nestr.store.auditchain` checks it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # the prev of the first record
SELECT = (
    "SELECT seq, time, actor, face, peer, action, target, outcome, error, correlation_id, prev,"
    " hash FROM audit"
)
INSERT = (
    "INSERT INTO audit (seq, time, actor, face, peer, action, target, outcome, error,"
    " correlation_id, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class AuditEntry:
    """What an action tells the trail; the store adds ``seq``, ``time``, ``prev`` and ``hash``."""

    actor: str
    face: str
    action: str
    target: Mapping[str, Any]
    outcome: str
    peer: str | None = None
    error: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    """One stored record of the trail."""

    seq: int
    time: str
    actor: str
    face: str
    peer: str | None
    action: str
    target: dict[str, Any]
    outcome: str
    error: str | None
    correlation_id: str | None
    prev: str
    hash: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        """The record as ``nestr audit list --json`` prints it (every field)."""
        return {name: getattr(self, name) for name in FIELDS}


FIELDS = tuple(f.name for f in fields(AuditRecord))


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The canonical form of a record's ``fields`` (``hash`` left out if present)."""
    shown = {k: v for k, v in fields.items() if k != "hash"}
    text = json.dumps(shown, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def digest(fields: Mapping[str, Any]) -> str:
    """The hash a record with ``fields`` must carry."""
    return hashlib.sha256(canonical(fields)).hexdigest()


def now() -> str:
    """The time of a record: UTC, microseconds, ``Z`` (sorts as text in time order)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def append_record(conn: sqlite3.Connection, entry: AuditEntry) -> AuditRecord:
    """Chain ``entry`` to the tail and insert it; call inside a write transaction.

    Its ``seq`` follows the highest ever used, not the highest still there: records removed
    from the end leave a gap the next record makes visible to the check.
    """
    tail = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    prev = tail[1] if tail is not None else GENESIS
    seq = max(highest_seq(conn), tail[0] if tail is not None else 0) + 1
    record = AuditRecord(
        seq=seq,
        time=now(),
        actor=entry.actor,
        face=entry.face,
        peer=entry.peer,
        action=entry.action,
        target=json.loads(json.dumps(dict(entry.target))),  # plain JSON values, as read back
        outcome=entry.outcome,
        error=entry.error,
        correlation_id=entry.correlation_id,
        prev=prev,
    )
    sealed = replace(record, hash=digest(record.to_dict()))
    conn.execute(INSERT, _row_values(sealed))
    return sealed


def highest_seq(conn: sqlite3.Connection) -> int:
    """The highest ``seq`` the trail ever used (SQLite's AUTOINCREMENT counter; 0: none)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
    return int(row[0]) if row is not None else 0


def _row_values(record: AuditRecord) -> tuple[Any, ...]:
    target = json.dumps(record.target, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (
        record.seq,
        record.time,
        record.actor,
        record.face,
        record.peer,
        record.action,
        target,
        record.outcome,
        record.error,
        record.correlation_id,
        record.prev,
        record.hash,
    )


def select_records(
    conn: sqlite3.Connection, *, since: str | None = None, action_prefix: str | None = None
) -> list[AuditRecord]:
    """Stored records, oldest first: from time ``since`` on, whose action starts with
    ``action_prefix``."""
    sql = SELECT + " WHERE 1"
    params: list[str | int] = []
    if since is not None:
        sql += " AND time >= ?"
        params.append(since)
    if action_prefix:
        sql += " AND substr(action, 1, ?) = ?"
        params.extend([len(action_prefix), action_prefix])
    sql += " ORDER BY seq"
    return [record_of(row) for row in conn.execute(sql, params)]


def record_of(row: sqlite3.Row | tuple[Any, ...]) -> AuditRecord:
    """The record of a row of :data:`SELECT` (a target that is not JSON is kept as the
    text it is, so that a check reports the row as edited)."""
    values = list(row)
    try:
        values[6] = json.loads(values[6])
    except (TypeError, ValueError):
        values[6] = {"unreadable": values[6]}
    return AuditRecord(*values)
