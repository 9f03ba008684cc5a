"""The durable outbox of webhook deliveries, in the store beside the event log.

Two tables (``nestr.store.schema``): ``webhook_endpoints`` keeps, per endpoint, the cursor (the
last event ``seq`` looked at: every matching event up to it is in the outbox) and whether a
410 disabled it; ``webhook_deliveries`` holds one row per event and endpoint. Enqueuing a batch
and moving the cursor past it is one transaction, so a crash never loses an event nor queues
one twice (``UNIQUE (endpoint, event_seq)`` guards it too). A try is counted before it is
sent: a sender killed mid-request leaves the row ``pending`` and the next dispatcher sends it
again, with the same ``webhook_id``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from nestr.store.eventrows import insert_event
from nestr.watchers.webhooks.payload import cloudevent_body
from nestr.watchers.webhooks.signing import webhook_id

if TYPE_CHECKING:
    from nestr.events.envelope import Event
    from nestr.store.db import Database

Status = Literal["pending", "delivered", "failed"]
STATUSES: tuple[Status, ...] = ("pending", "delivered", "failed")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one endpoint, as ``nestr webhooks deliveries --json`` shows it."""

    id: int
    endpoint: str
    event_seq: int
    event_type: str
    webhook_id: str
    status: Status
    attempts: int
    next_attempt: float
    created: float
    finished: float | None
    http_status: int | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class EndpointState:
    """What the store knows of an endpoint: its cursor and whether it is disabled."""

    name: str
    cursor: int
    disabled: float | None
    disabled_url_sha256: str | None  # of the URL that answered 410 (a URL may hold a token)

    def disabled_at(self, url: str) -> bool:
        """Whether a 410 disabled the endpoint while it had ``url``."""
        return self.disabled is not None and self.disabled_url_sha256 == url_digest(url)

    disabled_reason: str | None


_SELECT = (
    "SELECT id, endpoint, event_seq, event_type, webhook_id, status, attempts, next_attempt,"
    " created, finished, http_status, error FROM webhook_deliveries"
)


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(*row)


def url_digest(url: str) -> str:
    """What the store keeps of a URL: its SHA-256, enough to tell that it changed."""
    return hashlib.sha256(url.encode()).hexdigest()


def endpoint_state(db: Database, name: str, *, start: int) -> EndpointState:
    """The state of ``name``; an endpoint seen for the first time starts at ``start`` (the
    log's head then: a new endpoint gets the events from now on, not the whole history)."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO webhook_endpoints (name, cursor) VALUES (?, ?)", (name, start)
        )
        row = conn.execute("SELECT * FROM webhook_endpoints WHERE name = ?", (name,)).fetchone()
    return EndpointState(*row)


def known_states(db: Database) -> dict[str, EndpointState]:
    """Every endpoint the store has seen, by name (none created)."""
    rows = db.query("SELECT * FROM webhook_endpoints")
    return {row[0]: EndpointState(*row) for row in rows}


def enqueue(db: Database, batches: Mapping[str, Sequence[Event]], cursor: int) -> int:
    """Put each endpoint's events in the outbox (with the body every try will send) and move
    its cursor to ``cursor``, in one transaction; returns the number of rows added."""
    now = time.time()
    bodies: dict[int, str] = {}

    def body(event: Event) -> str:  # one rendering per event, whatever the endpoints
        return bodies.setdefault(id(event), cloudevent_body(event))

    added = 0
    with db.transaction() as conn:
        for endpoint, events in batches.items():
            rows = [
                (endpoint, e.seq, e.type, webhook_id(endpoint, e.id), body(e), now, now)
                for e in events
                if e.seq is not None
            ]
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO webhook_deliveries (endpoint, event_seq, event_type,"
                " webhook_id, body, status, next_attempt, created)"
                " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                rows,
            )
            added += conn.total_changes - before
            conn.execute(
                "UPDATE webhook_endpoints SET cursor = max(cursor, ?) WHERE name = ?",
                (cursor, endpoint),
            )
    return added


def next_pending(db: Database, endpoint: str) -> Delivery | None:
    """The pending delivery of ``endpoint`` with the lowest event ``seq`` (deliveries of an
    endpoint go out one at a time in ``seq`` order); None too while it is disabled."""
    rows = db.query(
        _SELECT + " WHERE endpoint = ? AND status = 'pending' AND NOT EXISTS (SELECT 1 FROM"
        " webhook_endpoints WHERE name = ? AND disabled IS NOT NULL)"
        " ORDER BY event_seq LIMIT 1",
        (endpoint, endpoint),
    )
    return _delivery(rows[0]) if rows else None


def start_attempt(db: Database, delivery_id: int) -> tuple[int, bytes]:
    """Count a try before it is sent (a crash mid-send still counts it); its number and the
    body to send."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1 WHERE id = ?", (delivery_id,)
        )
        row = conn.execute(
            "SELECT attempts, body FROM webhook_deliveries WHERE id = ?", (delivery_id,)
        ).fetchone()
    return int(row[0]), str(row[1]).encode("utf-8")


def finish(
    db: Database,
    delivery_id: int,
    *,
    status: Status,
    http_status: int | None,
    error: str | None,
    retry_at: float | None = None,
    event: Event,
) -> Event:
    """Record how a try ended (delivered, failed for good, or pending until ``retry_at``)
    and append ``event``, which reports it, in the same transaction; the event numbered."""
    finished = None if status == "pending" else time.time()
    with db.transaction() as conn:
        conn.execute(
            "UPDATE webhook_deliveries SET status = ?, http_status = ?, error = ?, finished = ?,"
            " next_attempt = coalesce(?, next_attempt) WHERE id = ?",
            (status, http_status, error, finished, retry_at, delivery_id),
        )
        return insert_event(conn, event)


def disable(db: Database, endpoint: str, *, url: str, reason: str) -> None:
    """Stop delivering to ``endpoint`` (a 410 Gone); its pending deliveries stay queued."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE webhook_endpoints SET disabled = ?, disabled_url_sha256 = ?,"
            " disabled_reason = ? WHERE name = ?",
            (time.time(), url_digest(url), reason, endpoint),
        )


def enable(db: Database, endpoint: str) -> bool:
    """Deliver to ``endpoint`` again, from where it stopped; False if it was not disabled."""
    with db.transaction() as conn:
        changed = conn.execute(
            "UPDATE webhook_endpoints SET disabled = NULL, disabled_url_sha256 = NULL,"
            " disabled_reason = NULL WHERE name = ? AND disabled IS NOT NULL",
            (endpoint,),
        ).rowcount
    return bool(changed)


def redeliver(db: Database, delivery_id: int) -> Delivery | None:
    """Queue delivery ``delivery_id`` again (same ``webhook_id``, tries counted from zero);
    None when there is no such delivery."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, finished = NULL,"
            " next_attempt = ? WHERE id = ?",
            (time.time(), delivery_id),
        )
        row = conn.execute(_SELECT + " WHERE id = ?", (delivery_id,)).fetchone()
    return None if row is None else _delivery(row)


def deliveries(
    db: Database,
    *,
    endpoint: str | None = None,
    status: Status | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """The latest deliveries (newest first), filtered by endpoint and status."""
    sql, params = _SELECT + " WHERE 1", list[object]()
    if endpoint is not None:
        sql, params = sql + " AND endpoint = ?", [*params, endpoint]
    if status is not None:
        sql, params = sql + " AND status = ?", [*params, status]
    rows = db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
    return [_delivery(row) for row in rows]


def forget_pruned(db: Database) -> int:
    """Delete the finished deliveries of events no longer in the log (``events.retention``
    pruned them): the outbox's history is as long as the log's. Pending ones stay."""
    with db.transaction() as conn:
        return conn.execute(
            "DELETE FROM webhook_deliveries WHERE status != 'pending'"
            " AND event_seq < (SELECT coalesce(min(seq), 0) FROM events)"
        ).rowcount


def counts(db: Database) -> dict[str, dict[str, int]]:
    """Deliveries per endpoint and status."""
    out: dict[str, dict[str, int]] = {}
    rows = db.query(
        "SELECT endpoint, status, count(*) FROM webhook_deliveries GROUP BY endpoint, status"
    )
    for name, status, count in rows:
        out.setdefault(name, dict.fromkeys(STATUSES, 0))[status] = count
    return out
