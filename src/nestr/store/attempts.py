"""Writes of step attempts, inside a transaction the caller holds.

An attempt is recorded when it starts (``write_start``) and when it ends (``write_finish``: the
attempt, its logs and — when it is the last — the step's end with its outputs, plus the event, so
a step is never recorded done without its outputs or its event). Records of several tries that
commit in the same turn are written together (``write_starts``, ``write_finishes``): a few
statements for all of them, leaving what writing each in turn would.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from nestr.events.envelope import Event
from nestr.store.db import Database
from nestr.store.eventrows import insert_events
from nestr.store.records import AttemptStatus, StepEnd


@dataclass(frozen=True)
class AttemptEnd:
    """How one attempt ended, and (when ``final``) how its step ended."""

    status: AttemptStatus
    step_status: StepEnd | None = None  # set when the try ends the step
    exit_code: int | None = None
    error: str | None = None
    outputs: dict[str, str] | None = None
    logs: Sequence[tuple[str, str, bool]] = ()  # (stream, text, truncated)


_START_STEP = (
    "UPDATE steps SET status='running', attempts=?, started=coalesce(started, ?)"
    " WHERE run_id=? AND key=?"
)
_START_ATTEMPT = (
    "INSERT OR REPLACE INTO attempts (run_id, key, attempt, status, started)"
    " VALUES (?,?,?,'running',?)"
)
_FINISH_ATTEMPT = (
    "UPDATE attempts SET status=?, finished=?, exit_code=?, error=?"
    " WHERE run_id=? AND key=? AND attempt=?"
)
_FINISH_STEP = (
    "UPDATE steps SET status=?, finished=?, exit_code=?, error=?, outputs=?"
    " WHERE run_id=? AND key=?"
)


@dataclass(frozen=True)
class AttemptStart:
    """A try's start, as a group-commit record."""

    run_id: str
    key: str
    attempt: int
    now: float
    event: Event

    def __call__(self, conn: sqlite3.Connection) -> list[Event]:
        return write_starts(conn, [self])


@dataclass(frozen=True)
class AttemptFinish:
    """A try's end (and its step's, when ``end.step_status`` is set), as a group-commit
    record."""

    run_id: str
    key: str
    attempt: int
    end: AttemptEnd
    now: float
    event: Event

    def __call__(self, conn: sqlite3.Connection) -> list[Event]:
        return write_finishes(conn, [self])


def write_start(
    conn: sqlite3.Connection, run_id: str, key: str, attempt: int, now: float, event: Event
) -> Event:
    (started,) = write_starts(conn, [AttemptStart(run_id, key, attempt, now, event)])
    return started


def write_starts(conn: sqlite3.Connection, starts: Sequence[AttemptStart]) -> list[Event]:
    """Record several tries' starts with one statement per table: what ``write_start`` does
    for each, in order (the processes of a layer start in the same turn)."""
    conn.executemany(_START_STEP, [(s.attempt, s.now, s.run_id, s.key) for s in starts])
    conn.executemany(_START_ATTEMPT, [(s.run_id, s.key, s.attempt, s.now) for s in starts])
    return insert_events(conn, [s.event for s in starts])


def write_finish(
    conn: sqlite3.Connection,
    run_id: str,
    key: str,
    attempt: int,
    end: AttemptEnd,
    now: float,
    event: Event,
) -> Event:
    """Record how an attempt ended (and its step, when final), inside the caller's
    transaction."""
    (ended,) = write_finishes(conn, [AttemptFinish(run_id, key, attempt, end, now, event)])
    return ended


def write_finishes(conn: sqlite3.Connection, finishes: Sequence[AttemptFinish]) -> list[Event]:
    """Record several tries' ends with one statement per table: what ``write_finish`` does for
    each, in order (a layer's processes often end in the same turn)."""
    conn.executemany(
        _FINISH_ATTEMPT,
        [(f.end.status, f.now, f.end.exit_code, f.end.error, f.run_id, f.key, f.attempt)
         for f in finishes],
    )  # fmt: skip
    for f in finishes:
        _insert_logs(conn, f.run_id, f.key, f.attempt, f.end.logs)
    steps = [
        (f.end.step_status, f.now, f.end.exit_code, f.end.error, _outputs_json(f.end), f.run_id,
         f.key)
        for f in finishes
        if f.end.step_status is not None
    ]  # fmt: skip
    if steps:
        conn.executemany(_FINISH_STEP, steps)
    return insert_events(conn, [f.event for f in finishes])


def record_logs(
    db: Database, run_id: str, key: str, attempt: int, logs: Sequence[tuple[str, str, bool]]
) -> None:
    """Keep one try's captured output without the rest of its record: a Temporal worker's
    store keeps the logs of the steps it ran, whose runs its submitter records."""
    with db.transaction() as conn:
        _insert_logs(conn, run_id, key, attempt, logs)


def _insert_logs(
    conn: sqlite3.Connection,
    run_id: str,
    key: str,
    attempt: int,
    logs: Sequence[tuple[str, str, bool]],
) -> None:
    if logs:
        conn.executemany(
            "INSERT OR REPLACE INTO logs (run_id, key, attempt, stream, text, truncated)"
            " VALUES (?,?,?,?,?,?)",
            [(run_id, key, attempt, s, t, int(c)) for s, t, c in logs],
        )


def _outputs_json(end: AttemptEnd) -> str | None:
    if end.outputs is None:
        return None
    return json.dumps(end.outputs) if end.outputs else "{}"


_INSERT_ATTEMPT = (
    "INSERT OR REPLACE INTO attempts"
    " (run_id, key, attempt, status, started, finished, exit_code, error) VALUES (?,?,?,?,?,?,?,?)"
)
_UPDATE_STEP = (
    "UPDATE steps SET status=?, attempts=?, started=coalesce(started, ?), finished=?,"
    " exit_code=?, error=?, outputs=? WHERE run_id=? AND key=?"
)


@dataclass(frozen=True)
class WholeAttempt:
    """A try's start and end committed together (a try that ended in the turn it started),
    written as one: what ``write_starts`` then ``write_finishes`` would leave, in fewer
    statements."""

    start: AttemptStart
    finish: AttemptFinish

    def __call__(self, conn: sqlite3.Connection) -> list[Event]:
        return write_attempts(conn, [self])

    def attempt_row(self) -> tuple[object, ...]:
        start, end = self.start, self.finish.end
        return (start.run_id, start.key, start.attempt, end.status, start.now,
                self.finish.now, end.exit_code, end.error)  # fmt: skip

    def step_row(self) -> tuple[object, ...]:
        start, finish = self.start, self.finish
        end, final = finish.end, finish.end.step_status is not None
        return (
            end.step_status or "running",
            start.attempt,
            start.now,
            finish.now if final else None,
            end.exit_code if final else None,
            end.error if final else None,
            _outputs_json(end) if final else None,
            start.run_id,
            start.key,
        )


def write_attempts(conn: sqlite3.Connection, tries: Sequence[WholeAttempt]) -> list[Event]:
    """Record several whole tries with one statement per table: what writing each one's start
    and then its end does, in order (a layer of ``noop`` steps ends in the turn it starts)."""
    conn.executemany(_INSERT_ATTEMPT, [t.attempt_row() for t in tries])
    for t in tries:
        _insert_logs(conn, t.start.run_id, t.start.key, t.start.attempt, t.finish.end.logs)
    conn.executemany(_UPDATE_STEP, [t.step_row() for t in tries])
    return insert_events(conn, [event for t in tries for event in (t.start.event, t.finish.event)])
