"""What faces ask about runs: the runs, one run's steps and attempts, captured output, and
cancelling a run.

Every face (``nestr runs``, later the server and the TUI) reads runs through these functions,
not through the store's tables, so a change of how runs are recorded stays behind this module.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from nestr.errors import NotFound, did_you_mean
from nestr.events.catalog import RUN_FINISHED, RunFinished
from nestr.store.compensations import FailedStep, failed_steps
from nestr.store.db import Database
from nestr.store.records import AttemptRecord, LogRecord, RunRecord, StepRecord
from nestr.store.runs import RunStore
from nestr.workflow.liveness import owner_alive, run_dict, shown_status
from nestr.workflow.model import Workflow
from nestr.workflow.rungraph import RunGraph, run_graph
from nestr.workflow.steplogs import StepLogs, step_logs
from nestr.workflow.tracking import left, refreshed, tracked_by, tracker

if TYPE_CHECKING:
    from nestr.events.bus import EventBus
    from nestr.workflow.executor import RunResult

__all__ = [
    "AttemptRecord",
    "Cancellation",
    "FailedStep",
    "LogRecord",
    "RunDetail",
    "RunQueries",
    "RunRecord",
    "StepRecord",
]

TAIL_LINES = 10  # lines of a failed step's output a summary shows

CancelOutcome = Literal["requested", "ended", "cancelled-interrupted"]


@dataclass(frozen=True)
class RunDetail:
    """A run with its step instances and every attempt."""

    run: RunRecord
    steps: list[StepRecord]
    attempts: list[AttemptRecord]

    @property
    def forward(self) -> list[StepRecord]:
        """The run's own step instances."""
        from nestr.workflow.saga import is_compensation  # the engine: not for listing runs

        return [s for s in self.steps if not is_compensation(s.key)]

    @property
    def compensations(self) -> list[StepRecord]:
        """Its compensations (keys ``compensate:KEY``), in the order they were planned."""
        from nestr.workflow.saga import is_compensation

        return [s for s in self.steps if is_compensation(s.key)]

    def to_dict(self) -> dict[str, object]:
        return {
            **run_dict(self.run),
            "steps": [s.to_dict() for s in self.forward],
            "compensations": [s.to_dict() for s in self.compensations],
            "attempts": [a.to_dict() for a in self.attempts],
        }


@dataclass(frozen=True)
class Cancellation:
    """What cancelling a run did: asked its owner to stop, found it ended, or ended it here
    because its owner had died (``cancelled-interrupted``)."""

    run: RunRecord
    outcome: CancelOutcome


class RunQueries:
    """Reads of runs in one store. A run an executor drives elsewhere (on Temporal) whose
    submitter is gone is cancelled there (``nestr.workflow.tracking``) and, when ``bus`` is
    given (a session's), brought up to date from there as it is read; the events of both go
    to ``bus`` (default: the store's log). Without ``bus`` (a read-only store) runs are read
    as recorded."""

    def __init__(self, db: Database, bus: EventBus | None = None) -> None:
        self.store = RunStore(db)
        self._bus = bus

    @property
    def bus(self) -> EventBus:
        if self._bus is None:
            from nestr.events.bus import EventBus
            from nestr.store.eventlog import EventLog

            self._bus = EventBus(sink=EventLog(self.store.db))
        return self._bus

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """The newest ``limit`` runs, newest first (those left running elsewhere refreshed)."""
        return self._refreshed(self.store.runs(limit))

    def _refreshed(self, records: list[RunRecord]) -> list[RunRecord]:
        if self._bus is None or not any(left(r) for r in records):  # the usual case
            return records
        return refreshed(self.store, self._bus, records)

    def find_run(self, run: str) -> RunRecord:
        """The run with id ``run`` or the one whose id starts with it (a usage error if none)."""
        return self.store.find_run(run)

    def run(self, run_id: str) -> RunRecord:
        """The run with id ``run_id`` as recorded now."""
        return self.store.run(run_id)

    def detail(self, run: str) -> RunDetail:
        """Run ``run`` (id or prefix), its step instances and attempts."""
        (record,) = self._refreshed([self.find_run(run)])
        return RunDetail(record, self.store.steps(record.id), self.store.attempts(record.id))

    def failed_steps(self, run: str | None = None, limit: int = 100) -> list[FailedStep]:
        """The dead-letter list: failed step instances of ended runs that did not compensate
        (of run ``run``, an id or prefix, when given), newest run first."""
        run_id = None if run is None else self.find_run(run).id
        return failed_steps(self.store.db, run_id, limit)

    def workflow(self, record: RunRecord) -> Workflow:
        """The workflow ``record`` runs, as it was resolved when the run started."""
        return Workflow.from_dict(record.definition)

    def graph(self, record: RunRecord) -> RunGraph:
        """The DAG ``record`` runs: steps, needs, layers, fan-out and retry policies."""
        return run_graph(self.workflow(record))

    def step_keys(self, run_id: str, step: str | None = None) -> set[str]:
        """Instance keys of ``run_id``: all, or those of ``step`` (an id or a key like
        ``test[api]``); a usage error naming the closest step when there is none."""
        return select_keys(run_id, [s.key for s in self.store.steps(run_id)], step)

    def logs(self, run_id: str, keys: Iterable[str] | None = None) -> list[LogRecord]:
        """Captured output of ``run_id`` (of the instances ``keys`` only, when given)."""
        wanted = None if keys is None else set(keys)
        return [r for r in self.store.logs(run_id) if wanted is None or r.key in wanted]

    def step_logs(self, run: str, step: str | None = None) -> StepLogs:
        """Captured output of run ``run`` (id or prefix), of one ``step`` (an id, or a key like
        ``test[api]``) when given, also from the stores of the Temporal workers that ran them
        (when this host can read them); a usage error naming the closest step when there is
        none."""
        run_id = self.find_run(run).id
        return step_logs(self.store.db, run_id, self.step_keys(run_id, step))

    def failed_tails(self, result: RunResult, lines: int = TAIL_LINES) -> dict[str, str]:
        """The last ``lines`` lines of output of each failed instance of ``result`` (also of
        those a Temporal worker on this host ran)."""
        failed = {s.key for s in result.steps if s.status == "failed"}
        if not failed:
            return {}
        tails: dict[str, str] = {}
        for record in step_logs(self.store.db, result.run_id, failed).records:
            text = (tails.get(record.key, "") + record.text).rstrip("\n").splitlines()
            tails[record.key] = "\n".join(text[-lines:])
        return tails

    def cancel(self, run: str) -> Cancellation:
        """Ask run ``run`` to stop (its owner kills its steps); a run whose owner died is ended
        here, with the process groups its steps left running. A run an executor drives
        elsewhere whose submitter is gone is stopped there (its workflow cancelled) and
        recorded as it ended."""
        record = self.find_run(run)
        if record.status not in {"running", "pending"}:
            return Cancellation(record, "ended")
        if left(record):
            done = self._cancel_elsewhere(record)
            if done is not None:
                return done
        if shown_status(record) == "interrupted" and self._cancel_interrupted(record):
            return Cancellation(record, "cancelled-interrupted")
        self.store.request_cancel(record.id, time.time())
        return Cancellation(record, "requested")

    def _cancel_elsewhere(self, record: RunRecord) -> Cancellation | None:
        """Cancel ``record`` on the engine that runs it; None when the engine never had it
        (or no tracker of its executor is installed): it is then ended here."""
        found = tracker(tracked_by(record) or "")
        if found is None:
            return None
        outcome = found.cancel(self.store, self.bus, record)
        if outcome == "absent":
            return None
        now = self.store.run(record.id)
        shown: dict[str, CancelOutcome] = {"ended": "ended", "cancelled": "cancelled-interrupted"}
        return Cancellation(now, shown.get(outcome, "requested"))

    def _cancel_interrupted(self, record: RunRecord) -> bool:
        """False when another process took the run over meanwhile."""
        from nestr.workflow.runs import end_left_groups

        event = RUN_FINISHED.event(
            RunFinished(status="cancelled", reason="cancelled while interrupted"),
            subject=record.workflow,
            run_id=record.id,
        )
        if not self.store.cancel_interrupted(record, time.time(), event, owner_alive):
            return False
        end_left_groups(self.store.db, record)
        return True


def select_keys(run_id: str, keys: list[str], step: str | None) -> set[str]:
    """Those of the instance ``keys`` of run ``run_id`` that ``step`` names (an id or a key
    like ``test[api]``; None: all); a usage error naming the closest step when there is none."""
    if step is None:
        return set(keys)
    chosen = {k for k in keys if k == step or k.split("[", 1)[0] == step}
    if not chosen:
        raise NotFound(
            f"run {run_id} has no step {step!r}",
            kind="step",
            name=step,
            hint=did_you_mean(step, keys),
        )
    return chosen
