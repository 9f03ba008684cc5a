"""Events become the same ``nestr.v1.Event`` read from the log's rows as decoded and converted."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from nestr.events import Event
from nestr.server._proto import events_pb2 as pb
from nestr.server.eventproto import from_stored, to_proto
from nestr.store.eventlog import open_event_log
from nestr.store.eventrows import EventQuery

SEVERITY = {"debug": 1, "info": 2, "warning": 3, "error": 4}


def decoded_proto(event: Event) -> pb.Event:
    """The conversion the stream made before rows were read as stored: the data decoded into an
    ``Event``, encoded again, the time through ``Timestamp.FromDatetime``."""
    time = Timestamp()
    time.FromDatetime(event.time)
    return pb.Event(
        seq=event.seq or 0,
        id=event.id,
        source=event.source,
        type=event.type,
        subject=event.subject or "",
        time=time,
        run_id=event.run_id or "",
        step=event.step or "",
        repo=event.repo or "",
        correlation_id=event.correlation_id or "",
        traceparent=event.traceparent or "",
        severity=SEVERITY.get(event.severity, 0),
        data_json=json.dumps(event.data, separators=(",", ":"), default=str),
    )


UNICODE = 'héllo wörld ✓ 😀 \u2028 \x00 "quoted" \\ / \ud800'
EVENTS = [
    Event(
        "nestr.workflow.step.finished",
        {"nested": {"list": [1, 2.5, None, True], UNICODE: UNICODE}, "path": Path("/x")},
        subject="api/😀",
        run_id="run-1",
        step="build",
        repo="api",
        correlation_id="c0ffee",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        severity="warning",
        time=datetime(2026, 12, 7, 5, 6, 7, 891011, tzinfo=UTC),
    ),
    Event("nestr.test.large", {"blob": "x" * 1_000_000, "keys": {str(i): i for i in range(2000)}}),
    Event("nestr.test.numbers", {"f": 1e100, "g": 0.1, "h": -0.0, "i": 12345678901234567890123}),
    Event(
        "nestr.test.old",
        {},
        severity="error",
        time=datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=timezone(timedelta(hours=2))),
    ),
    Event("nestr.test.whole-second", {"a": []}, time=datetime(2026, 1, 1, tzinfo=UTC)),
]


def stored_and_decoded(state: Path, events: list[Event]) -> tuple[list[Any], list[Any], list[Any]]:
    """For ``events`` appended to a log in ``state``: their messages from the stored rows,
    through the decoded path, and as the hub converts the live (numbered) events."""
    log = open_event_log(state)
    try:
        live = [log.append(event) for event in events]
        rows = [from_stored(row) for row in log.read_stored(EventQuery())]
        decoded = [decoded_proto(event) for event in log.read()]
    finally:
        log.close()
    return rows, decoded, [to_proto(event) for event in live]


def test_rows_give_exactly_the_messages_the_decoded_path_gave(tmp_path: Path) -> None:
    """Every envelope field, unicode (a lone surrogate too), a megabyte of data, numbers, times
    before 1970, with offsets and whole seconds: the message from the stored row is equal, field
    for field and byte for byte, to the one decoding the event gave, and to the live one."""
    rows, decoded, live = stored_and_decoded(tmp_path, EVENTS)
    assert len(rows) == len(EVENTS)
    for row, old, new in zip(rows, decoded, live, strict=True):
        assert row == old == new
        assert row.SerializeToString() == old.SerializeToString()
    first = rows[0]
    assert (first.subject, first.step, first.severity) == ("api/😀", "build", pb.SEVERITY_WARNING)
    assert json.loads(first.data_json)["nested"][UNICODE] == UNICODE


def test_a_page_holding_nan_is_still_served(tmp_path: Path) -> None:
    """Python's encoder stores NaN and Infinity, which older SQLite refuses as JSON: a page
    holding one is read all the same, the other events exactly as the decoded path gives them
    (and the NaN event too where SQLite leaves the text to Python)."""
    events = [Event("nestr.test.a", {"i": 1}), Event("nestr.test.nan", {"x": float("nan")})]
    rows, decoded, _ = stored_and_decoded(tmp_path, [*events, Event("nestr.test.b", {"i": 2})])
    assert [row.type for row in rows] == ["nestr.test.a", "nestr.test.nan", "nestr.test.b"]
    assert (rows[0], rows[2]) == (decoded[0], decoded[2])
    if sqlite3.sqlite_version_info < (3, 42):
        assert rows[1] == decoded[1]


@pytest.mark.parametrize("severity", ["debug", "info", "warning", "error"])
def test_every_severity_maps_as_before(tmp_path: Path, severity: Any) -> None:
    """Each severity becomes the same enum value from a stored row as from a decoded event."""
    rows, decoded, _ = stored_and_decoded(tmp_path, [Event("nestr.test.s", severity=severity)])
    assert rows == decoded
    assert rows[0].severity == SEVERITY[severity]
