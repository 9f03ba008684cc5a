"""Event rows: bodies are compact, read back as the very events written, and seq stays
gap-free when a step's two events share one statement."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from nestr.events import Event
from nestr.store import open_database
from nestr.store.eventrows import EventQuery, insert_event, insert_events, select_events


def _events() -> list[Event]:
    return [
        Event("x.bare"),
        Event(
            "x.full",
            data={"n": 1, "f": 0.25, "none": None, "nested": {"a": [1, "b"]}},
            subject="s",
            run_id="r1",
            step="s",
            repo="api",
            correlation_id="c",
            traceparent="00-abc-def-01",
            severity="error",
        ),
        Event("x.pair.first", data={"attempt": 1}, run_id="r1", step="t"),
        Event("x.pair.second", data={"status": "succeeded"}, run_id="r1", step="t"),
    ]


def test_stored_events_read_back_equal_with_consecutive_seq(tmp_path: Path) -> None:
    """Events appended one by one and several in one statement come back from the log equal to
    what was written, numbered 1, 2, 3, 4 in writing order."""
    events = _events()
    bare, full, first, second = events
    with open_database(tmp_path) as db:
        with db.transaction() as conn:
            written = [insert_event(conn, bare), insert_event(conn, full)]
            written += insert_events(conn, [first, second])
        with db.reading() as conn:
            read = select_events(conn, EventQuery())
    assert [e.seq for e in written] == [1, 2, 3, 4]
    assert [replace(e, seq=None) for e in written] == events
    assert read == written


def test_a_body_leaves_out_only_the_fields_that_are_none(tmp_path: Path) -> None:
    """The stored JSON is compact and omits optional fields that are None; everything else is
    there."""
    bare, full, _, _ = _events()
    with open_database(tmp_path) as db:
        with db.transaction() as conn:
            insert_event(conn, bare)
            insert_event(conn, full)
        bodies = [row[0] for row in db.query("SELECT body FROM events ORDER BY seq")]
    assert all(", " not in body and ": " not in body for body in bodies)
    bare_keys, full_keys = (set(json.loads(body)) for body in bodies)
    assert bare_keys == {"type", "data", "severity", "id", "source", "time"}
    assert full_keys == bare_keys | {
        "subject",
        "run_id",
        "step",
        "repo",
        "correlation_id",
        "traceparent",
    }
