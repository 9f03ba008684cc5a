"""`nestr events prune` applies events.retention; `nestr events` notes on stderr what was pruned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nestr.events import Event
from nestr.store.eventlog import open_event_log


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state dir (NESTR_STATE_DIR) whose log holds 12 events."""
    path = tmp_path / "state"
    monkeypatch.setenv("NESTR_STATE_DIR", str(path))
    log = open_event_log(path)
    for i in range(12):
        log.append(Event("nestr.test.cli", {"i": i}))
    log.close()
    return path


def test_prune_without_retention_keeps_everything(state: Path, nestr: Any) -> None:
    """With no events.retention limit (the default) prune deletes nothing and says why."""
    result = nestr("events", "prune")
    assert result.code == 0, result.err
    assert "no retention set" in result.out
    assert json.loads(nestr("events", "prune", "--json").out) == {"deleted": 0, "retention": False}
    assert open_event_log(state).oldest() == 1


def test_prune_then_events_notes_the_pruned_range_on_stderr(state: Path, nestr: Any) -> None:
    """max_events=4 prunes seq 1-8; `nestr events --since 2` then prints 9..12 on stdout and a
    note naming 3-8 on stderr; from a seq that is kept, no note."""
    done = nestr("--set", "events.retention.max_events=4", "events", "prune", "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out) == {
        "deleted": 8,
        "oldest_seq": 9,
        "head_seq": 12,
        "retention": True,
    }
    listed = nestr("events", "--since", "2", "--json")
    assert [json.loads(line)["seq"] for line in listed.out.splitlines()] == [9, 10, 11, 12]
    assert listed.err == "note: events 3–8 were pruned (events.retention); starting at 9\n"
    assert nestr("events", "--since", "8").err == ""


def test_a_bad_retention_value_is_a_located_error(state: Path, nestr: Any) -> None:
    """A max_age that is no duration exits 2 naming the flag, the key and the grammar."""
    result = nestr("--set", "events.retention.max_age=soon", "events", "prune")
    assert result.code == 2
    assert "flag --set: events.retention.max_age: expected a duration" in result.err
