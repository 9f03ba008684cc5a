"""Runs, step instances, attempts, outputs and logs: every state change is one transaction.

A step costs two commits when it succeeds first time: one when its attempt starts and one when
it finishes — the finish updates the attempt and the step, stores outputs and logs and appends
the step's event together, so a crash can never leave a step recorded done without its outputs
or its event (or the reverse). The ``write_*`` functions of ``nestr.store.attempts`` run the same
statements inside a transaction the caller holds, so records of several steps can share one
commit.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nestr.errors import NotFound, UsageError
from nestr.events.envelope import Event
from nestr.store.attempts import AttemptEnd, write_finish, write_start
from nestr.store.db import Database
from nestr.store.eventrows import insert_event
from nestr.store.records import (
    AttemptRecord,
    LogRecord,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
)

# Whether the owner of a run (as read) is alive at a time: the engine's rule
# (nestr.workflow.liveness.owner_alive), applied by the store inside its transactions.
OwnerAlive = Callable[[RunRecord, float], bool]


@dataclass(frozen=True)
class NewStep:
    """A step instance to record when a run is created."""

    key: str
    step_id: str
    repo: str | None


class RunStore:
    """The run tables of one :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create_run(
        self,
        run: RunRecord,
        steps: Sequence[NewStep],
        event: Event,
    ) -> Event:
        """Record a new run (owned by this process) and all its step instances as pending."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO runs (id, workflow, status, definition, inputs, context, created,"
                " owner_pid, owner_host, heartbeat) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run.id,
                    run.workflow,
                    "running",
                    json.dumps(run.definition, separators=(",", ":")),  # rewritten at the end
                    json.dumps(run.inputs),
                    json.dumps(run.context),
                    run.created,
                    run.owner_pid,
                    run.owner_host,
                    run.created,
                ),
            )
            conn.executemany(
                "INSERT INTO steps (run_id, key, step_id, repo, position, status)"
                " VALUES (?,?,?,?,?,'pending')",
                [(run.id, s.key, s.step_id, s.repo, i) for i, s in enumerate(steps)],
            )
            return insert_event(conn, event)

    def claim(
        self,
        seen: RunRecord,
        pid: int,
        now: float,
        event: Callable[[Sequence[StepRecord]], Event],
        alive: OwnerAlive,
        keys: Collection[str] | None = None,
    ) -> tuple[Event, int, list[StepRecord]]:
        """Take over run ``seen`` (as read before) to resume it: steps not succeeded go back to
        pending (only the instances ``keys``, when given: a retry of one step, or the
        compensations a resume continues). Returns the ``resumed`` event (``event`` of the
        steps as they were), the number of this takeover (1 for the first resume) and the
        steps.

        One transaction checks that the owner is still the dead one that was seen (``alive``
        says whether an owner lives) and takes the run over, so of two resumes of one run
        exactly one gets it; the other gets a :class:`RunBusy` naming the process that has it.
        """
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM runs WHERE id=?", (seen.id,)).fetchone()
            current = RunRecord.from_row(row)
            if _taken(current, seen, now, alive):
                raise _busy(current, alive, now)
            taken = conn.execute(
                "UPDATE runs SET status='running', owner_pid=?, owner_host=?, heartbeat=?,"
                " finished=NULL, cancel_requested=NULL, resumes=resumes+1"
                " WHERE id=? AND owner_pid IS ? AND owner_host IS ? AND resumes=?"
                " RETURNING resumes",
                (pid, socket.gethostname(), now, seen.id, seen.owner_pid, seen.owner_host,
                 seen.resumes),
            ).fetchone()  # fmt: skip
            if taken is None:  # unreachable under the write lock; kept as the rule itself
                raise _busy(current, alive, now)
            steps = [_step_record(r) for r in conn.execute(_SELECT_STEPS, (seen.id,))]
            _reset_steps(conn, seen.id, keys)
            conn.execute(  # attempts a dead process left open
                "UPDATE attempts SET status='interrupted' WHERE run_id=? AND status='running'",
                (seen.id,),
            )
            return insert_event(conn, event(steps)), int(taken[0]), steps

    def cancel_interrupted(
        self, seen: RunRecord, now: float, event: Event, alive: OwnerAlive
    ) -> bool:
        """End run ``seen``, whose owner died, as cancelled; False (nothing written) when the
        run was taken over since it was read."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM runs WHERE id=?", (seen.id,)).fetchone()
            if _taken(RunRecord.from_row(row), seen, now, alive):
                return False
            conn.execute(  # compensations it was running stop here too
                "UPDATE runs SET status='cancelled', finished=?, heartbeat=?, compensation="
                " CASE compensation WHEN 'running' THEN 'cancelled' ELSE compensation END"
                " WHERE id=?",
                (now, now, seen.id),
            )
            conn.execute(
                "UPDATE attempts SET status='interrupted' WHERE run_id=? AND status='running'",
                (seen.id,),
            )
            conn.execute(
                "UPDATE steps SET status='cancelled', finished=?, error=?"
                " WHERE run_id=? AND status IN ('pending', 'running')",
                (now, "run cancelled", seen.id),
            )
            insert_event(conn, event)
            return True

    def note_context(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Set the top-level keys ``values`` in run ``run_id``'s context (an executor that runs
        it elsewhere records there where: its name and the ids it runs it under)."""
        with self.db.transaction() as conn:
            for key, value in values.items():
                conn.execute(
                    "UPDATE runs SET context=json_set(context, ?, json(?)) WHERE id=?",
                    (f"$.{key}", json.dumps(value), run_id),
                )

    def finish_left(
        self,
        seen: RunRecord,
        status: RunStatus,
        now: float,
        events: Sequence[Event],
        compensation: str | None = None,
    ) -> list[Event]:
        """End run ``seen``, which no process follows any more, as the engine that ran it
        says it ended (with its events, one transaction); nothing (no events) when a process
        took it over or it ended since it was read."""
        with self.db.transaction() as conn:
            changed = conn.execute(
                "UPDATE runs SET status=?, finished=?, compensation=coalesce(?, compensation)"
                " WHERE id=? AND status IN ('running', 'pending') AND owner_pid IS ?"
                " AND owner_host IS ? AND resumes=?",
                (status, now, compensation, seen.id, seen.owner_pid, seen.owner_host,
                 seen.resumes),
            ).rowcount  # fmt: skip
            if not changed:
                return []
            return [insert_event(conn, e) for e in events]

    def start_attempt(self, run_id: str, key: str, attempt: int, now: float, event: Event) -> Event:
        with self.db.transaction() as conn:
            return write_start(conn, run_id, key, attempt, now, event)

    def finish_attempt(
        self, run_id: str, key: str, attempt: int, end: AttemptEnd, now: float, event: Event
    ) -> Event:
        """End an attempt; with ``end.step_status`` the step ends in the same transaction."""
        with self.db.transaction() as conn:
            return write_finish(conn, run_id, key, attempt, end, now, event)

    def settle_steps(
        self,
        run_id: str,
        changes: Iterable[tuple[str, StepStatus, str | None]],
        now: float,
        events: Sequence[Event],
    ) -> list[Event]:
        """Mark steps that never ran (``skipped``/``cancelled``), with their events."""
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE steps SET status=?, finished=?, error=? WHERE run_id=? AND key=?",
                [(status, now, reason, run_id, key) for key, status, reason in changes],
            )
            return [insert_event(conn, e) for e in events]

    def finish_run(self, run_id: str, status: RunStatus, now: float, event: Event) -> Event:
        """Record the run's end with its event."""
        return self.finish_run_with(run_id, status, now, [event])[0]

    def finish_run_with(
        self,
        run_id: str,
        status: RunStatus,
        now: float,
        events: Sequence[Event],
        compensation: str | None = None,
    ) -> list[Event]:
        """Record the run's end with its events (in this order, one transaction);
        ``compensation``: how its compensations ended, if any ran."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status=?, finished=?, heartbeat=?,"
                " compensation=coalesce(?, compensation) WHERE id=?",
                (status, now, now, compensation, run_id),
            )
            return [insert_event(conn, e) for e in events]

    def release_run(self, run_id: str, event: Event) -> Event:
        """Leave run ``run_id`` to a resume: its owner stops without ending it (a server
        shutting down). The run stays ``running`` but has no owner any more, so it shows
        ``interrupted`` at once; its running steps go back to ``pending`` and their open
        attempts are marked ``interrupted``, as a resume's claim would."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE runs SET owner_pid=NULL, heartbeat=NULL WHERE id=?", (run_id,))
            conn.execute(
                "UPDATE steps SET status='pending' WHERE run_id=? AND status='running'",
                (run_id,),
            )
            conn.execute(
                "UPDATE attempts SET status='interrupted' WHERE run_id=? AND status='running'",
                (run_id,),
            )
            return insert_event(conn, event)

    def beat(self, run_id: str, now: float) -> bool:
        """Write the owner's heartbeat; return whether a cancel was requested."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "UPDATE runs SET heartbeat=? WHERE id=? RETURNING cancel_requested",
                (now, run_id),
            ).fetchone()
        return row is not None and row[0] is not None

    def cancel_requested(self, run_id: str) -> bool:
        rows = self.db.query("SELECT cancel_requested FROM runs WHERE id=?", (run_id,))
        return bool(rows) and rows[0][0] is not None

    def request_cancel(self, run_id: str, now: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE runs SET cancel_requested=coalesce(cancel_requested, ?) WHERE id=?",
                (now, run_id),
            )

    def run(self, run_id: str) -> RunRecord:
        rows = self.db.query("SELECT * FROM runs WHERE id=?", (run_id,))
        if not rows:
            raise NotFound(
                f"no run {run_id!r}", kind="run", name=run_id, hint="see `nestr runs list`"
            )
        return RunRecord.from_row(rows[0])

    def find_run(self, prefix: str) -> RunRecord:
        """The run whose id is or starts with ``prefix``; an error if none or several."""
        rows = self.db.query(
            "SELECT * FROM runs WHERE substr(id, 1, ?) = ? ORDER BY created LIMIT 3",
            (len(prefix), prefix),
        )
        exact = [r for r in rows if r["id"] == prefix]
        if exact:
            return RunRecord.from_row(exact[0])
        if not rows:
            raise NotFound(
                f"no run matches {prefix!r}", kind="run", name=prefix, hint="see `nestr runs list`"
            )
        if len(rows) > 1:
            raise UsageError(f"{prefix!r} matches several runs", hint="give more of the run id")
        return RunRecord.from_row(rows[0])

    def runs(self, limit: int = 50) -> list[RunRecord]:
        rows = self.db.query("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,))
        return [RunRecord.from_row(r) for r in rows]

    def steps(self, run_id: str) -> list[StepRecord]:
        rows = self.db.query(_SELECT_STEPS, (run_id,))
        return [_step_record(r) for r in rows]

    def attempts(self, run_id: str) -> list[AttemptRecord]:
        rows = self.db.query(
            "SELECT key, attempt, status, started, finished, exit_code, error FROM attempts"
            " WHERE run_id=? ORDER BY started, key, attempt",
            (run_id,),
        )
        return [AttemptRecord(*r) for r in rows]

    def logs(self, run_id: str, key: str | None = None) -> list[LogRecord]:
        sql = "SELECT key, attempt, stream, text, truncated FROM logs WHERE run_id=?"
        params: list[object] = [run_id]
        if key is not None:
            sql += " AND key=?"
            params.append(key)
        rows = self.db.query(sql + " ORDER BY key, attempt, stream DESC", params)
        return [LogRecord(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


def _reset_steps(conn: Any, run_id: str, keys: Collection[str] | None) -> None:
    """Put the steps a takeover runs again back to pending: every one not succeeded, or the
    instances ``keys``."""
    if keys is None:
        conn.execute(
            "UPDATE steps SET status='pending', error=NULL, exit_code=NULL"
            " WHERE run_id=? AND status!='succeeded'",
            (run_id,),
        )
        return
    conn.executemany(
        "UPDATE steps SET status='pending', error=NULL, exit_code=NULL, finished=NULL"
        " WHERE run_id=? AND key=?",
        [(run_id, key) for key in keys],
    )


class RunBusy(UsageError):
    """A run another live process owns (it runs it, or took it over to resume it)."""


def _taken(current: RunRecord, seen: RunRecord, now: float, alive: OwnerAlive) -> bool:
    """Whether ``current`` is no longer the run ``seen`` whose owner was dead."""
    moved = (current.owner_pid, current.owner_host, current.resumes) != (
        seen.owner_pid,
        seen.owner_host,
        seen.resumes,
    )
    return moved or (current.status in {"running", "pending"} and alive(current, now))


def _busy(current: RunRecord, alive: OwnerAlive, now: float) -> RunBusy:
    who = f"pid {current.owner_pid} on host {current.owner_host}"
    running = current.status in {"running", "pending"}
    if running and alive(current, now):
        if current.resumes:
            return RunBusy(
                f"run {current.id} is being resumed by {who}",
                hint=f"follow it with `nestr runs show {current.id[:8]}`",
            )
        return RunBusy(
            f"run {current.id} is still running ({who})",
            hint=f"wait for it, or stop it with `nestr runs cancel {current.id[:8]}`",
        )
    status = "interrupted" if running else current.status
    return RunBusy(
        f"run {current.id} was resumed meanwhile by {who} and is now {status}",
        hint=f"see `nestr runs show {current.id[:8]}`; resume it again if it is not done",
    )


# StepRecord's fields in order, so a row is read by position (a run's end reads every step).
_SELECT_STEPS = (
    "SELECT run_id, key, step_id, repo, status, attempts, started, finished, exit_code, error,"
    " outputs FROM steps WHERE run_id=? ORDER BY position"
)


def _step_record(row: Sequence[Any]) -> StepRecord:
    run_id, key, step_id, repo, status, attempts, started, finished, code, error, outputs = row
    return StepRecord(
        run_id,
        key,
        step_id,
        repo,
        status,
        attempts,
        started,
        finished,
        code,
        error,
        # most steps have no outputs: "{}" is common enough to skip json.loads for
        json.loads(outputs) if outputs and outputs != "{}" else {},
    )
