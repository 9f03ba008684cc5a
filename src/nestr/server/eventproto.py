"""The protobuf form of an event (``nestr.v1.Event``), from the log's rows or a live event.

Every event goes through :class:`~nestr.store.eventrows.StoredEvent`, the form the log keeps it
in, so a replayed event and the same event seen live become the same message. A replay never
decodes the data: SQLite hands it over as the JSON text it was stored as and it goes into
``data_json`` as is (decoding it into an ``Event`` and encoding it again was most of a replay's
cost). A live event is put in that form once for the whole server, by the hub.

Batches are filled with :func:`add_events` (``events.add(...)`` builds each message in place)
or, from messages converted before, :func:`extend_events`; both close a batch at about
:data:`BATCH_BYTES`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nestr.server._proto import events_pb2 as pb
from nestr.store.eventrows import StoredEvent, stored

if TYPE_CHECKING:
    from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

    from nestr.events import Event
    from nestr.events.envelope import Severity

SEVERITY = {
    "debug": pb.SEVERITY_DEBUG,
    "info": pb.SEVERITY_INFO,
    "warning": pb.SEVERITY_WARNING,
    "error": pb.SEVERITY_ERROR,
}
# the envelope's severity of a message's (unspecified: the envelope's default)
SEVERITY_OF: dict[int, Severity] = {
    pb.SEVERITY_UNSPECIFIED: "info",
    pb.SEVERITY_DEBUG: "debug",
    pb.SEVERITY_INFO: "info",
    pb.SEVERITY_WARNING: "warning",
    pb.SEVERITY_ERROR: "error",
}
# A batch is closed once it holds about this many bytes: far below the 4 MiB a gRPC client
# receives by default, however large the events (one larger than that still goes alone).
BATCH_BYTES = 1 << 20
ENVELOPE_BYTES = 256  # what a batch counts for an event's fields beside its data
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_proto(event: Event) -> pb.Event:
    """The protobuf form of ``event`` (numbered by the log)."""
    return pb.Event(**_fields(stored(event)))


def from_proto(
    message: pb.Event,
    *,
    data: dict[str, Any] | None = None,
    time: datetime | None = None,
    numbered: bool = True,
) -> Event:
    """The library's event of ``message`` (empty strings are absent fields): one of the
    stream, numbered by the log; ``numbered=False`` for one no log holds yet (``Publish``).
    ``data`` and ``time``: the message's, when the caller decoded them already."""
    from nestr.events import Event

    return Event(
        type=message.type,
        data=(json.loads(message.data_json) if message.data_json else {}) if data is None else data,
        subject=message.subject or None,
        run_id=message.run_id or None,
        step=message.step or None,
        repo=message.repo or None,
        correlation_id=message.correlation_id or None,
        traceparent=message.traceparent or None,
        severity=SEVERITY_OF.get(message.severity, "info"),
        seq=message.seq if numbered else None,
        id=message.id,
        source=message.source,
        time=message.time.ToDatetime(tzinfo=UTC) if time is None else time,
    )


def from_stored(row: StoredEvent) -> pb.Event:
    """The protobuf form of an event read from the log."""
    return pb.Event(**_fields(row))


def add_events(
    events: RepeatedCompositeFieldContainer[pb.Event], rows: Iterable[StoredEvent]
) -> int:
    """Append ``rows`` to ``events`` until about :data:`BATCH_BYTES` are in; the number added."""
    size = added = 0
    for row in rows:
        if added and size >= BATCH_BYTES:
            break
        events.add(**_fields(row))
        size += size_of(row)
        added += 1
    return added


def extend_events(
    events: RepeatedCompositeFieldContainer[pb.Event], messages: Iterable[tuple[pb.Event, int]]
) -> int:
    """Copy ready ``(message, size)`` pairs into ``events`` until about :data:`BATCH_BYTES`
    are in; the number added."""
    size = added = 0
    for message, bytes_ in messages:
        if added and size >= BATCH_BYTES:
            break
        events.append(message)
        size += bytes_
        added += 1
    return added


def size_of(row: StoredEvent) -> int:
    """About how many bytes ``row`` takes in a batch."""
    return len(row.data_json) + ENVELOPE_BYTES


def _fields(row: StoredEvent) -> dict[str, Any]:
    """The message's fields; None leaves a field unset (an empty string)."""
    return {
        "seq": row.seq,
        "id": row.id,
        "source": row.source,
        "type": row.type,
        "subject": row.subject,
        "time": _timestamp(row.time),
        "run_id": row.run_id,
        "step": row.step,
        "repo": row.repo,
        "correlation_id": row.correlation_id,
        "traceparent": row.traceparent,
        "severity": SEVERITY.get(row.severity, pb.SEVERITY_UNSPECIFIED),
        "data_json": row.data_json,
    }


def _timestamp(text: str) -> dict[str, int]:
    """A ``google.protobuf.Timestamp`` of RFC 3339 ``text``, as ``Timestamp.FromDatetime`` makes
    it (a time without an offset is UTC) at a fraction of its cost."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    since = moment - _EPOCH
    return {"seconds": since.days * 86_400 + since.seconds, "nanos": since.microseconds * 1000}
