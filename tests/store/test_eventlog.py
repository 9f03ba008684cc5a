"""The durable event log: gap-free seq, filters, the durable bus, and following another process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from nestr.events import Event, EventBus
from nestr.store.eventlog import EventLog, open_event_bus, open_event_log


def test_durable_bus_numbers_events_gap_free_and_persists_them(tmp_path: Path) -> None:
    """Events published on the durable bus get seq 1, 2, 3… and survive a new connection."""
    bus = open_event_bus(tmp_path)
    seqs = [bus.publish(Event(f"nestr.test.e{i}", {"i": i})).seq for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    log = open_event_log(tmp_path)
    assert [(e.seq, e.data["i"]) for e in log.read()] == [(i + 1, i) for i in range(5)]
    assert log.head() == 5


def test_read_filters_by_since_type_prefix_and_run(tmp_path: Path) -> None:
    """read() returns events after since_seq, of types starting with the prefix, of one run."""
    log = open_event_log(tmp_path)
    log.append(Event("nestr.workflow.step.started", run_id="r1"))
    log.append(Event("nestr.workflow.step.started", run_id="r2"))
    log.append(Event("nestr.workspace.repo.fetched"))
    log.append(Event("nestr.workflow.run.finished", run_id="r1"))
    assert [e.seq for e in log.read(since_seq=1)] == [2, 3, 4]
    assert [e.seq for e in log.read(type_prefix="nestr.workflow.")] == [1, 2, 4]
    assert [e.seq for e in log.read(run_id="r1")] == [1, 4]
    assert [e.seq for e in log.read(type_prefix="nestr.workflow.step", run_id="r1")] == [1]


def test_an_event_already_appended_is_not_stored_twice(tmp_path: Path) -> None:
    """An event the store appended in a transaction (seq set) passes through the sink as is."""
    log = open_event_log(tmp_path)
    stored = log.append(Event("nestr.test.once"))
    bus = EventBus(sink=log)
    assert bus.publish(stored).seq == stored.seq
    assert log.head() == 1


def test_round_trip_keeps_the_envelope(tmp_path: Path) -> None:
    """Every envelope field read back equals what was appended (Event.to_dict shape)."""
    log = open_event_log(tmp_path)
    sent = log.append(
        Event(
            "nestr.test.full",
            {"nested": {"a": [1, 2]}},
            subject="s",
            run_id="r",
            step="k",
            repo="api",
            correlation_id="c",
            severity="warning",
        )
    )
    assert log.read()[0] == sent


def test_concurrent_writers_keep_seq_gap_free(tmp_path: Path) -> None:
    """Two processes appending at once produce seq 1..N without gaps or duplicates."""
    open_event_log(tmp_path).close()
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from nestr.events import Event
        from nestr.store.eventlog import open_event_bus
        bus = open_event_bus(Path({str(tmp_path)!r}))
        for i in range(100):
            bus.publish(Event("nestr.test.n"))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    log = EventLog(open_event_log(tmp_path).db)
    assert [e.seq for e in log.read()] == list(range(1, 201))
