"""Retention of the event log: the oldest events go, the kept ones stay gap-free, seq goes on."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nestr.events import Event
from nestr.store import eventprune
from nestr.store.eventlog import EventLog, open_event_log

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def aged(log: EventLog, *days: float) -> None:
    """Append one event per entry of ``days``, written that many days before NOW."""
    for n, age in enumerate(days):
        log.append(Event("nestr.test.aged", {"n": n}, time=NOW - timedelta(days=age)))


def kept(state: Path) -> list[int]:
    """The seqs stored, read through a connection of their own."""
    with sqlite3.connect(state / "nestr.db") as conn:
        return [row[0] for row in conn.execute("SELECT seq FROM events ORDER BY seq")]


def test_max_events_keeps_the_newest_and_reports_the_oldest(tmp_path: Path) -> None:
    """max_events=3 of 10 deletes seq 1-7; oldest() and the result say 8; reading from 0
    starts there."""
    log = open_event_log(tmp_path)
    aged(log, *[0] * 10)
    pruned = log.prune(max_events=3)
    assert (pruned.deleted, pruned.oldest, pruned.head) == (7, 8, 10)
    assert log.oldest() == 8
    assert [e.seq for e in log.read()] == [8, 9, 10]
    assert log.prune(max_events=3).deleted == 0  # nothing more to do


def test_max_age_cuts_at_the_first_young_event_in_seq_order(tmp_path: Path) -> None:
    """Events older than the limit go up to the first one young enough; a later event with a
    clock behind is kept, so what remains has no hole."""
    log = open_event_log(tmp_path)
    aged(log, 40, 35, 10, 50, 1)  # seq 4 was written by a process with a clock behind
    pruned = eventprune.prune_events(log.db, max_age=30 * 86400, now=NOW)
    assert pruned.deleted == 2
    assert kept(tmp_path) == [3, 4, 5]


def test_the_newest_event_is_never_pruned_so_seq_goes_on(tmp_path: Path) -> None:
    """When every event is too old, the newest stays, and the next append takes the next seq
    (seq is the rowid: an empty table would start again at 1)."""
    log = open_event_log(tmp_path)
    aged(log, 90, 80, 70)
    assert eventprune.prune_events(log.db, max_age=86400, now=NOW).deleted == 2
    assert kept(tmp_path) == [3]
    assert log.append(Event("nestr.test.next")).seq == 4


def test_no_limits_prune_nothing(tmp_path: Path) -> None:
    """Without max_age and max_events (the default) the log is left as it is."""
    log = open_event_log(tmp_path)
    aged(log, 400, 300)
    assert log.prune().deleted == 0
    assert log.oldest() == 1
    assert open_event_log(tmp_path / "empty").prune(max_events=1).oldest == 0


WRITER = """
from pathlib import Path
from nestr.events import Event
from nestr.store.eventlog import open_event_bus
bus = open_event_bus(Path({state!r}))
for i in range({count}):
    bus.publish(Event("nestr.test.w", {{"i": i}}))
"""


def test_pruning_under_a_concurrent_writer_loses_nothing_above_the_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process appends 1000 events, repeated prunes (small chunks, so they
    interleave with its commits) leave after each one every seq from the oldest kept to the
    head, and at the end exactly the newest 50, each with the data it was written with."""
    monkeypatch.setattr(eventprune, "CHUNK", 7)
    log = open_event_log(tmp_path)
    script = textwrap.dedent(WRITER.format(state=str(tmp_path), count=1000))
    writer = subprocess.Popen([sys.executable, "-c", script])
    prunes = 0
    while writer.poll() is None or prunes == 0:
        pruned = log.prune(max_events=50)
        prunes += 1
        seqs = kept(tmp_path) or [0]
        assert seqs == list(range(seqs[0], seqs[-1] + 1))
        assert pruned.oldest in (0, seqs[0])  # 0: the writer had not written yet
    assert writer.wait() == 0
    log.prune(max_events=50)
    events = log.read()
    assert [e.seq for e in events] == list(range(951, 1001))
    assert [e.data["i"] for e in events] == list(range(950, 1000))
