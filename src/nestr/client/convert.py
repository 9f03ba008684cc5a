"""Protobuf messages of the server back into the library's own values.

The server builds its messages from the values' ``to_dict`` forms (``--json``); these functions
invert them, so a command renders a remote result with the code that renders a local one. What
the messages do not carry (a run's definition, a plan's file contents) is left empty: no
command's output reads it, except where the server sends the rendered text (a sync diff).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from nestr.errors import NestrError
from nestr.events import Event
from nestr.server._proto import events_pb2, sync_pb2, workflow_pb2, workspace_pb2
from nestr.server.eventproto import from_proto
from nestr.store.compensations import FailedStep
from nestr.store.records import AttemptRecord, LogRecord, RunRecord, StepRecord
from nestr.sync.model import FilePlan, RepoPlan, SyncPlan
from nestr.sync.planner import Action, Policy, Record
from nestr.sync.results import SyncRepoResult, SyncResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    from nestr.workflow.rungraph import RunGraph
    from nestr.workspace.locking import LockResult
    from nestr.workspace.status import WorkspaceStatus


def event(message: events_pb2.Event) -> Event:
    """An event of the stream as the log holds it (empty strings are absent fields)."""
    return from_proto(message)


# --- runs -------------------------------------------------------------------------------------


def run(message: workflow_pb2.Run) -> RunRecord:
    """A run as stored. ``interrupted`` (a status as shown) comes back as ``running`` with its
    owner, which :func:`nestr.workflow.liveness.shown_status` shows as interrupted again."""
    status = "running" if message.status == "interrupted" else message.status
    return RunRecord(
        id=message.id,
        workflow=message.workflow,
        status=cast("Any", status),
        definition={},
        inputs=json.loads(message.inputs_json or "{}"),
        context={},
        created=message.created,
        finished=message.finished if message.HasField("finished") else None,
        owner_pid=message.owner.pid or None,
        owner_host=message.owner.host or None,
        heartbeat=message.heartbeat if message.HasField("heartbeat") else None,
        cancel_requested=message.created if message.cancel_requested else None,
        resumes=message.resumes,
        compensation=message.compensation if message.HasField("compensation") else None,
    )


def step(message: workflow_pb2.Step, run_id: str) -> StepRecord:
    """A step instance of run ``run_id``."""
    return StepRecord(
        run_id=run_id,
        key=message.key,
        step_id=message.step,
        repo=_opt(message, "repo"),
        status=cast("Any", message.status),
        attempts=message.attempts,
        started=_opt(message, "started"),
        finished=_opt(message, "finished"),
        exit_code=_opt(message, "exit_code"),
        error=_opt(message, "error"),
        outputs=json.loads(message.outputs_json or "{}"),
    )


def graph(messages: Sequence[workflow_pb2.StepNode]) -> RunGraph | None:
    """A run's DAG; None when the server sent none (an unreadable definition, an older
    server): a face draws the run without it."""
    from nestr.workflow.model import RetryPolicy
    from nestr.workflow.rungraph import RunGraph, StepNode

    if not messages:
        return None
    return RunGraph(
        tuple(
            StepNode(
                id=m.id,
                needs=tuple(m.needs),
                layer=m.layer,
                foreach=m.foreach,
                retry=RetryPolicy(
                    attempts=m.retry.attempts or 1,
                    backoff=cast("Any", m.retry.backoff or "exponential"),
                    initial=m.retry.initial,
                    max=m.retry.max,
                    jitter=m.retry.jitter,
                ),
            )
            for m in messages
        )
    )


def attempt(message: workflow_pb2.Attempt) -> AttemptRecord:
    """One try of a step instance."""
    return AttemptRecord(
        key=message.key,
        attempt=message.attempt,
        status=cast("Any", message.status),
        started=message.started,
        finished=_opt(message, "finished"),
        exit_code=_opt(message, "exit_code"),
        error=_opt(message, "error"),
    )


def log(message: workflow_pb2.StepLog) -> LogRecord:
    """Captured output of one attempt on one stream."""
    return LogRecord(
        key=message.key,
        attempt=message.attempt,
        stream=cast("Any", message.stream),
        text=message.text,
        truncated=message.truncated,
    )


def failed_step(message: workflow_pb2.FailedStep) -> FailedStep:
    """An entry of the dead-letter list."""
    return FailedStep(
        run_id=message.run_id,
        workflow=message.workflow,
        key=message.key,
        step=message.step,
        repo=_opt(message, "repo"),
        attempts=message.attempts,
        finished=_opt(message, "finished"),
        exit_code=_opt(message, "exit_code"),
        error=_opt(message, "error"),
    )


# --- workspaces -------------------------------------------------------------------------------


def workspace_row(message: workspace_pb2.RegisteredWorkspace) -> dict[str, Any]:
    """A row of ``nestr workspace list --json`` (:meth:`RegistryEntry.listed`)."""
    return {
        "id": message.id,
        "root": message.root,
        "manifest": message.manifest,
        "created": message.created,
        "expires": _opt(message, "expires"),
        "ephemeral": message.ephemeral,
        "repos": list(message.repos),
        "exists": message.exists,
        "expired": message.expired,
    }


def status(message: workspace_pb2.StatusResponse) -> WorkspaceStatus:
    """``nestr status`` of a workspace of the server's machine."""
    from nestr.workspace.status import WorkspaceStatus

    return WorkspaceStatus(
        root=Path(message.workspace),
        manifest=Path(message.manifest),
        lock_file=Path(message.lock_file) if message.HasField("lock_file") else None,
        repos=tuple(_status_repo(r, locked=message.HasField("lock_file")) for r in message.repos),
    )


def _status_repo(message: workspace_pb2.StatusRepo, *, locked: bool) -> Any:
    from nestr.git.repo import Changes, GitStatus
    from nestr.workspace.status import RepoStatus

    git = None
    if message.state == "ok":
        changes = message.changes
        git = GitStatus(
            commit=_opt(message, "commit"),
            branch=_opt(message, "branch"),
            upstream=_opt(message, "upstream"),
            ahead=_opt(message, "ahead"),
            behind=_opt(message, "behind"),
            changes=Changes(
                changes.staged, changes.unstaged, changes.untracked, changes.conflicted
            ),
        )
    lock = message.lock if message.HasField("lock") else None
    return RepoStatus(
        name=message.name,
        path=message.path,
        revision=message.revision,
        state=cast("Any", message.state),
        git=git,
        locked_commit=_opt(lock, "commit") if lock is not None else None,
        locked=locked,
        error=_opt(message, "error"),
    )


def lock(message: workspace_pb2.LockResponse) -> LockResult:
    """``nestr lock`` of a manifest of the server's machine."""
    from nestr.workspace.lockfile import LockedRepo, LockFile
    from nestr.workspace.locking import LockFailure, LockResult

    repos = {r.name: LockedRepo(r.name, r.url, r.revision, r.commit) for r in message.repos}
    failures = tuple(
        LockFailure(f.name, f.revision, f.message, _opt(f, "hint")) for f in message.failures
    )
    return LockResult(
        path=Path(message.path),
        lock=LockFile(message.manifest_hash, repos),
        failures=failures,
        written=message.written,
        seconds=message.seconds,
    )


# --- sync -------------------------------------------------------------------------------------


class RepoError(NestrError):
    """A repo's own sync failure, with the exit code the server gave it."""

    def __init__(self, message: str, *, hint: str | None, exit_code: int) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code


@dataclass(frozen=True)
class ShownFilePlan(FilePlan):
    """A planned file whose diff the server rendered (its contents stay on the server)."""

    shown_diff: str = ""

    def diff(self, *, markers: bool = True) -> str:
        return self.shown_diff


def sync_plan(message: sync_pb2.PlanResponse) -> SyncPlan:
    """``nestr sync plan`` of a workspace of the server's machine."""
    return SyncPlan(tuple(_repo_plan(r) for r in message.repos), _sources(message.sources_json))


def sync_result(message: sync_pb2.ApplyResponse) -> SyncResult:
    """``nestr sync apply`` of a workspace of the server's machine."""
    plans = [_repo_plan(r) for r in message.repos]
    repos = tuple(
        SyncRepoResult(
            plan=plan,
            written=tuple(f.path for f in r.files if f.written),
            lock_written=r.lock_written,
            commit=_opt(r, "commit"),
            branch=_opt(r, "branch"),
            pushed=r.pushed,
            error=plan.error,
            saved={f.path: f.saved_blob for f in r.files if f.HasField("saved_blob")},
            not_committed=tuple(r.not_committed),
            edits_committed=tuple(r.local_edits_committed),
        )
        for plan, r in zip(plans, message.repos, strict=True)
    )
    return SyncResult(repos, SyncPlan(tuple(plans), _sources(message.sources_json)))


def _sources(text: str) -> dict[str, dict[str, Any]]:
    return cast("dict[str, dict[str, Any]]", json.loads(text or "{}"))


def _repo_plan(message: sync_pb2.SyncRepo) -> RepoPlan:
    error = None
    if message.HasField("error"):
        shown = message.error
        error = RepoError(shown.message, hint=shown.hint or None, exit_code=shown.exit_code)
    return RepoPlan(
        repo=message.repo,
        directory=Path(message.path),
        files=tuple(_file_plan(f) for f in message.files),
        error=error,
    )


def _file_plan(message: sync_pb2.SyncFile) -> FilePlan:
    return ShownFilePlan(
        path=message.path,
        action=Action(message.action),
        policy=Policy(message.policy),
        record=Record.NONE,
        source=_opt(message, "source"),
        source_path=_opt(message, "source_path"),
        detail=message.detail,
        shown_diff=message.diff,
    )


def _opt(message: Any, name: str) -> Any:
    """An optional field's value, None when absent."""
    return getattr(message, name) if message.HasField(name) else None
