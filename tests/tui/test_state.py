"""The fold of events into what the screens show, without a terminal."""

from __future__ import annotations

from datetime import UTC, datetime

from nestr.events import Event
from nestr.events import catalog as c
from nestr.tui.state import MAX_EVENTS, MAX_LOG_LINES, LiveState
from nestr.workflow.model import RetryPolicy

T0 = datetime(2027, 1, 1, tzinfo=UTC)


def event(kind: c.EventType, data: dict[str, object], seq: int, **fields: object) -> Event:
    return Event(kind.name, data, seq=seq, time=T0, **fields)  # type: ignore[arg-type]


def test_a_retrying_step_counts_down_to_its_policys_backoff() -> None:
    """After a step.retrying event the next attempt is due by the step's retry policy
    (exponential: 2 s after a second failed try of initial 1 s); the next start clears it."""
    state = LiveState()
    state.policies["r1"] = {"test": RetryPolicy(attempts=3, backoff="exponential", initial=1.0)}
    state.apply(event(c.RUN_STARTED, {"workflow": "ci", "inputs": {}, "steps": 1}, 1, run_id="r1"))
    retrying = {"attempt": 2, "status": "failed"}
    state.apply(event(c.STEP_RETRYING, retrying, 2, run_id="r1", step="test"))
    row = state.steps["r1"]["test"]
    assert (row.status, row.attempts) == ("retrying", 2)
    assert state.retry_due("r1", row) == T0.timestamp() + 2.0
    state.apply(event(c.STEP_STARTED, {"attempt": 3}, 3, run_id="r1", step="test"))
    assert (row.status, state.retry_due("r1", row)) == ("running", None)


def test_a_read_of_the_store_does_not_undo_newer_events() -> None:
    """Step records read after a step's events were folded (the Run screen opening while a
    step waits for its retry) leave the live state alone: the store has no 'retrying'."""
    from nestr.store.records import StepRecord

    state = LiveState()
    retrying = {"attempt": 1, "status": "failed"}
    state.apply(event(c.STEP_RETRYING, retrying, 1, run_id="r1", step="test"))
    state.add_steps("r1", [StepRecord("r1", "test", "test", None, "running", attempts=1)])
    assert state.steps["r1"]["test"].status == "retrying"


def test_a_new_sync_of_a_repo_replaces_its_last_one() -> None:
    """The Sync screen shows the last sync per repo: a conflict of an earlier sync is gone
    once the repo is synced again without one."""
    state = LiveState()
    conflict = {"path": "a.cfg", "policy": "merge", "detail": "1 overlapping change"}
    finished = {"counts": {"unchanged": 2}, "written": [], "error": None}
    state.apply(event(c.SYNC_FILE_CONFLICT, conflict, 1, repo="api"))
    state.apply(event(c.SYNC_REPO_FINISHED, finished, 2, repo="api"))
    assert state.syncs["api"].conflicts == {"a.cfg": "1 overlapping change"}
    assert state.syncs["api"].skipped == 2
    updated = {"path": "a.cfg", "policy": "merge", "detail": ""}
    state.apply(event(c.SYNC_FILE_UPDATED, updated, 3, repo="api"))
    state.apply(event(c.SYNC_REPO_FINISHED, {**finished, "written": ["a.cfg"]}, 4, repo="api"))
    assert (state.syncs["api"].conflicts, state.syncs["api"].written) == ({}, 1)


def test_memory_stays_bounded_however_many_events_arrive() -> None:
    """Events and log lines beyond their bounds push the oldest out; the count of lines ever
    added still grows, so a log view knows how many are new."""
    state = LiveState()
    total = MAX_EVENTS + 500
    for seq in range(1, total + 1):
        log = {"stream": "stdout", "text": f"line {seq}\n", "attempt": 1}
        state.apply(event(c.STEP_LOG, log, seq, run_id="r1", step="s"))
    assert len(state.events) == MAX_EVENTS
    assert len(state.logs["r1", "s"]) == MAX_LOG_LINES
    assert state.log_lines["r1", "s"] == total
    assert state.cursor == total
