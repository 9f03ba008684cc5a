"""What the store returns: frozen records of runs, steps, attempts and logs, and the statuses
they hold. Plain data: whether a run's owner is still alive is ``nestr.workflow.liveness``'s."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

RunStatus = Literal["pending", "running", "succeeded", "failed", "cancelled"]
# What a run is shown as: ``interrupted`` when its owner process died while it ran.
ShownRunStatus = Literal[RunStatus, "interrupted"]
StepStatus = Literal["pending", "running", "succeeded", "failed", "skipped", "cancelled"]
StepEnd = Literal["succeeded", "failed", "cancelled"]  # how a step's last try ends it
AttemptStatus = Literal["running", "succeeded", "failed", "timed_out", "cancelled", "interrupted"]

RUN_DONE = frozenset({"succeeded", "failed", "cancelled"})
STEP_DONE = frozenset({"succeeded", "failed", "skipped", "cancelled"})


@dataclass(frozen=True)
class RunRecord:
    """One run of a workflow as stored."""

    id: str
    workflow: str
    status: RunStatus
    definition: Mapping[str, Any]
    inputs: Mapping[str, Any]
    context: Mapping[str, Any]
    created: float
    finished: float | None = None
    owner_pid: int | None = None
    owner_host: str | None = None
    heartbeat: float | None = None
    cancel_requested: float | None = None
    resumes: int = 0
    # compensation: None when none ran, else running|succeeded|failed|cancelled; outcome: the
    # status its steps gave the run, kept while the compensations run
    compensation: str | None = None
    outcome: RunStatus | None = None

    @classmethod
    def from_row(cls, row: Any) -> RunRecord:
        return cls(
            id=row["id"],
            workflow=row["workflow"],
            status=row["status"],
            definition=json.loads(row["definition"]),
            inputs=json.loads(row["inputs"]),
            context=json.loads(row["context"]),
            created=row["created"],
            finished=row["finished"],
            owner_pid=row["owner_pid"],
            owner_host=row["owner_host"],
            heartbeat=row["heartbeat"],
            cancel_requested=row["cancel_requested"],
            resumes=row["resumes"],
            compensation=row["compensation"],
            outcome=row["outcome"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workflow": self.workflow,
            "status": self.status,
            "inputs": dict(self.inputs),
            "created": self.created,
            "finished": self.finished,
            "owner": {"pid": self.owner_pid, "host": self.owner_host},
            "heartbeat": self.heartbeat,
            "cancel_requested": self.cancel_requested is not None,
            "resumes": self.resumes,
            "compensated": self.compensation is not None,
            "compensation": self.compensation,
        }


@dataclass(frozen=True)
class StepRecord:
    """One step instance (``test`` or ``test[api]``) of a run."""

    run_id: str
    key: str
    step_id: str
    repo: str | None
    status: StepStatus
    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    error: str | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Any) -> StepRecord:
        return cls(
            run_id=row["run_id"],
            key=row["key"],
            step_id=row["step_id"],
            repo=row["repo"],
            status=row["status"],
            attempts=row["attempts"],
            started=row["started"],
            finished=row["finished"],
            exit_code=row["exit_code"],
            error=row["error"],
            outputs=json.loads(row["outputs"]) if row["outputs"] else {},
        )

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "step": self.step_id,
            "repo": self.repo,
            "status": self.status,
            "attempts": self.attempts,
            "started": self.started,
            "finished": self.finished,
            "duration": self.duration,
            "exit_code": self.exit_code,
            "error": self.error,
            "outputs": dict(self.outputs),
        }


@dataclass(frozen=True)
class AttemptRecord:
    """One try of a step instance."""

    key: str
    attempt: int
    status: AttemptStatus
    started: float
    finished: float | None
    exit_code: int | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "attempt": self.attempt,
            "status": self.status,
            "started": self.started,
            "finished": self.finished,
            "exit_code": self.exit_code,
            "error": self.error,
        }


@dataclass(frozen=True)
class LogRecord:
    """Captured output of one attempt on one stream (cut at the size cap when ``truncated``)."""

    key: str
    attempt: int
    stream: str
    text: str
    truncated: bool
