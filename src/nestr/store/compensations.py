"""The records of compensations and of the dead-letter list: a run's compensation rows, and
the failed steps of ended runs.

A compensation is a row of ``steps`` like any instance (key ``compensate:KEY``), with its own
attempts, logs and events; this module adds them when a run's compensations begin, together
with the run's ``compensation`` and ``outcome`` columns, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nestr.events.envelope import Event
from nestr.store.db import Database
from nestr.store.eventrows import insert_event
from nestr.store.records import RunStatus

COMPENSATION_LIKE = "compensate:%"


def begin_compensation(
    db: Database,
    run_id: str,
    outcome: RunStatus,
    steps: Sequence[tuple[str, str, str | None]],
    event: Event,
) -> Event:
    """Record that run ``run_id``, whose steps ended ``outcome``, starts compensating: the
    compensations ``steps`` (key, step id, repo) as pending rows after its steps."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE runs SET compensation='running', outcome=? WHERE id=?", (outcome, run_id)
        )
        (last,) = conn.execute(
            "SELECT coalesce(max(position), -1) FROM steps WHERE run_id=?", (run_id,)
        ).fetchone()
        conn.executemany(
            "INSERT OR IGNORE INTO steps (run_id, key, step_id, repo, position, status)"
            " VALUES (?,?,?,?,?,'pending')",
            [(run_id, k, s, r, last + 1 + i) for i, (k, s, r) in enumerate(steps)],
        )
        return insert_event(conn, event)


@dataclass(frozen=True)
class FailedStep:
    """A step instance that failed for good (its last try failed) in a run that ended: an
    entry of the dead-letter list, which ``nestr runs retry`` re-drives."""

    run_id: str
    workflow: str
    key: str
    step: str
    repo: str | None
    attempts: int
    finished: float | None
    exit_code: int | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "key": self.key,
            "step": self.step,
            "repo": self.repo,
            "attempts": self.attempts,
            "finished": self.finished,
            "exit_code": self.exit_code,
            "error": self.error,
        }


def failed_steps(db: Database, run_id: str | None = None, limit: int = 100) -> list[FailedStep]:
    """Failed step instances of runs that ended failed or cancelled without compensating
    (a compensated run was undone: nothing of it is re-driven), newest first."""
    sql = (
        "SELECT s.run_id, r.workflow, s.key, s.step_id, s.repo, s.attempts, s.finished,"
        " s.exit_code, s.error FROM steps s JOIN runs r ON r.id = s.run_id"
        " WHERE s.status='failed' AND s.key NOT LIKE ? AND r.status IN ('failed','cancelled')"
        " AND r.compensation IS NULL"
    )
    params: list[object] = [COMPENSATION_LIKE]
    if run_id is not None:
        sql += " AND s.run_id=?"
        params.append(run_id)
    sql += " ORDER BY r.created DESC, s.position LIMIT ?"
    params.append(limit)
    return [FailedStep(*row) for row in db.query(sql, params)]
