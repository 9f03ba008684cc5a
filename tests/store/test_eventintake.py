"""Taking other processes' events into the log: once each by id, with their envelope."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from nestr.events import Event
from nestr.store.db import open_database
from nestr.store.eventintake import receive_events
from nestr.store.eventlog import EventLog, open_event_log
from nestr.store.eventprune import prune_events


def made_elsewhere(count: int, run_id: str = "r1") -> list[Event]:
    """Events as a worker on another host made them (their own id, source, time)."""
    return [
        Event(
            "nestr.workflow.step.finished",
            {"attempt": 1, "temporal": {"workflow_id": f"nestr-{run_id}", "run_id": "t1"}},
            run_id=run_id,
            step=f"s{i}",
            repo="api",
            correlation_id="c" * 32,
            traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
            severity="warning",
            source="nestr://worker-host/4242",
            time=datetime(2026, 12, 7, 10, i // 60, i % 60, 123456, tzinfo=UTC),
        )
        for i in range(count)
    ]


def test_a_batch_sent_twice_is_stored_once_with_its_envelope(tmp_path: Path) -> None:
    """The same batch taken in twice adds its events once (the second time all are
    duplicates); each keeps its id, source, time and every other field, and gets this log's
    seq after the events already there."""
    log = open_event_log(tmp_path)
    log.append(Event("nestr.test.local"))
    batch = made_elsewhere(3)
    first = receive_events(log.db, batch)
    again = receive_events(log.db, batch)
    stored = log.read()
    log.close()
    assert (first.stored, first.duplicates, first.head) == (3, 0, 4)
    assert (again.stored, again.duplicates, again.head) == (0, 3, 4)
    assert [e.seq for e in stored] == [1, 2, 3, 4]
    assert [e.with_seq(0) for e in stored[1:]] == [e.with_seq(0) for e in batch]


def test_a_batch_overlapping_an_earlier_one_adds_only_what_is_new(tmp_path: Path) -> None:
    """A resend that overlaps what was stored (and repeats an id inside itself) adds each new
    id once, in the batch's order."""
    log = open_event_log(tmp_path)
    events = made_elsewhere(5)
    receive_events(log.db, events[:3])
    intake = receive_events(log.db, [*events[2:], events[4]])
    ids = [e.id for e in log.read()]
    log.close()
    assert (intake.stored, intake.duplicates) == (2, 2)
    assert ids == [e.id for e in events]


def test_two_connections_racing_with_one_batch_store_it_once(tmp_path: Path) -> None:
    """Two connections (as two server processes over one store) taking the same batch in at
    the same time store it once between them."""
    open_event_log(tmp_path).close()
    batch = made_elsewhere(200)
    results = []

    def take() -> None:
        db = open_database(tmp_path)
        try:
            results.append(receive_events(db, batch))
        finally:
            db.close()

    threads = [threading.Thread(target=take) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log = open_event_log(tmp_path)
    count = len(log.read())
    log.close()
    assert count == 200
    assert sorted(r.stored for r in results) == [0, 200]


def test_pruning_forgets_the_ids_of_pruned_events_only(tmp_path: Path) -> None:
    """Retention deletes the ids of the events it deletes, and keeps those of the events it
    keeps, which are still recognised."""
    log = open_event_log(tmp_path)
    events = made_elsewhere(4)
    receive_events(log.db, events)
    prune_events(log.db, max_events=2)
    ids = [row[0] for row in log.db.query("SELECT id FROM received_events ORDER BY seq")]
    kept = receive_events(log.db, events[2:])
    log.close()
    assert ids == [e.id for e in events[2:]]
    assert (kept.stored, kept.duplicates) == (0, 2)


def test_events_made_here_leave_no_id_behind(tmp_path: Path) -> None:
    """The log's own events cost intake nothing: only events taken in are recorded by id."""
    log = EventLog(open_database(tmp_path))
    log.append(Event("nestr.test.local"))
    rows = log.db.query("SELECT count(*) FROM received_events")
    log.close()
    assert rows[0][0] == 0
