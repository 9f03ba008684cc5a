"""What the store returns: frozen records of runs, steps, attempts and logs."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# A running run whose owner has not written a heartbeat for this long counts as interrupted,
# even when its pid cannot be checked (another host).
STALE_AFTER = 30.0
# On the owner's own host the pid decides; a heartbeat this old means the pid was reused.
LOCAL_STALE_AFTER = 600.0
HEARTBEAT_EVERY = 5.0
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
        )

    def owner_alive(self, now: float | None = None) -> bool:
        """Whether the process that runs it is still there (pid on this host, else heartbeat)."""
        now = time.time() if now is None else now
        if self.owner_host == socket.gethostname() and self.owner_pid:
            fresh = self.heartbeat is None or now - self.heartbeat < LOCAL_STALE_AFTER
            return fresh and _pid_alive(self.owner_pid)
        return self.heartbeat is not None and now - self.heartbeat < STALE_AFTER

    @property
    def shown_status(self) -> str:
        """``interrupted`` for a run left ``running`` by a process that died."""
        if self.status in {"running", "pending"} and not self.owner_alive():
            return "interrupted"
        return self.status

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workflow": self.workflow,
            "status": self.shown_status,
            "inputs": dict(self.inputs),
            "created": self.created,
            "finished": self.finished,
            "owner": {"pid": self.owner_pid, "host": self.owner_host},
            "heartbeat": self.heartbeat,
            "cancel_requested": self.cancel_requested is not None,
            "resumes": self.resumes,
        }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        return stat.rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


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
