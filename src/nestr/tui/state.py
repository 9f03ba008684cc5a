"""What the screens show, folded from events: plain data, no Textual.

The app feeds every event it reads (replayed or live) through :meth:`LiveState.apply` and the
screens draw from the result, so what a screen shows is testable without a terminal. Every
collection is bounded: the newest runs, the newest events, the last lines of each step's log.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nestr.events import catalog as c

if TYPE_CHECKING:
    from nestr.events import Event
    from nestr.workflow.model import RetryPolicy
    from nestr.workflow.queries import RunRecord, StepRecord

MAX_RUNS = 2_000  # runs kept in memory: the Runs screen pages up to this many
PAGE = 200  # runs the Runs screen reads per page
FIRST_PAGE = 60  # runs its first frame shows (a screenful): the rest of the page follows
MAX_EVENTS = 5_000  # events the Events screen can scroll back through
MAX_LOG_LINES = 2_000  # lines kept per step instance
# plan actions that leave a file as it is (nestr.sync.planner.Action)
SKIPPED = ("unchanged", "keep-local", "adopt-refused", "skip-deleted")


@dataclass
class RunRow:
    """One line of the Runs screen."""

    id: str
    workflow: str
    status: str
    started: float
    finished: float | None = None
    total: int | None = None  # step instances, when known
    done: int = 0
    correlation_id: str | None = None

    def progress(self) -> str:
        if self.total is None:
            return "-"
        done = self.total if self.status == "succeeded" else min(self.done, self.total)
        return f"{done}/{self.total}"

    def duration(self, now: float) -> float:
        return (self.finished or now) - self.started


@dataclass
class StepRow:
    """One step instance of a run as the Run screen shows it."""

    key: str
    step_id: str
    repo: str | None
    status: str = "pending"
    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    retried_at: float | None = None  # when a failed attempt announced a retry (countdown)
    live: bool = False  # events updated it: newer than a read of the store
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RepoRow:
    """One repo of the Workspace screen."""

    name: str
    branch: str = ""
    commit: str = ""
    dirty: int = 0
    ahead: int | None = None
    behind: int | None = None
    drift: str = ""
    assembly: str = ""  # what the assembly in progress did with it


@dataclass
class SyncRow:
    """The last sync of one repo: counts, and the files it could not write."""

    repo: str
    written: int = 0
    merged: int = 0
    skipped: int = 0
    conflicts: dict[str, str] = field(default_factory=dict)  # path -> detail
    error: str | None = None


class LiveState:
    """The folded view of the event stream: runs, steps, logs, repos, syncs, recent events."""

    def __init__(self) -> None:
        self.runs: dict[str, RunRow] = {}
        self.steps: dict[str, dict[str, StepRow]] = {}  # run id -> key -> row
        self.logs: dict[tuple[str, str], deque[str]] = {}
        self.log_lines: dict[tuple[str, str], int] = {}  # lines ever added, kept or not
        self.repos: dict[str, RepoRow] = {}
        self.syncs: dict[str, SyncRow] = {}
        self.events: deque[Event] = deque(maxlen=MAX_EVENTS)
        self.cursor = 0  # the last seq applied
        self.policies: dict[str, dict[str, RetryPolicy]] = {}  # run id -> step id -> retry
        self._closed_syncs: set[str] = set()
        self.workspace_changed = False  # a workspace or sync event since the last status

    # --- history from the queries ------------------------------------------------------------

    def add_records(self, records: list[RunRecord]) -> None:
        """Runs read from the store (older than the events replayed, or not in them)."""
        for record in records:
            row = self.runs.get(record.id)
            if row is None:
                total = len(record.definition.get("steps", ())) or None
                row = RunRow(record.id, record.workflow, record.status, record.created)
                row.total = total
                self.runs[record.id] = row
            row.status, row.finished = _shown(record), record.finished
        self._trim_runs()

    def add_steps(self, run_id: str, records: list[StepRecord]) -> None:
        """The step instances of one run as recorded; live events update them."""
        rows = self.steps.setdefault(run_id, {})
        for s in records:
            row = rows.setdefault(s.key, StepRow(s.key, s.step_id, s.repo))
            if row.live:  # its events are at least as new as this read
                continue
            row.status, row.attempts = s.status, s.attempts
            row.started, row.finished = s.started, s.finished
            row.outputs, row.error = dict(s.outputs), s.error
        run = self.runs.get(run_id)
        if run is not None and records:
            run.total = len(records)
            run.done = sum(1 for s in records if s.finished is not None)

    def add_log(self, run_id: str, key: str, text: str) -> None:
        lines = self.logs.setdefault((run_id, key), deque(maxlen=MAX_LOG_LINES))
        added = text.splitlines()
        lines.extend(added)
        self.log_lines[run_id, key] = self.log_lines.get((run_id, key), 0) + len(added)

    # --- live --------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Fold one event in (each seq once: the app drops repeats before this)."""
        self.events.append(event)
        if event.seq is not None:
            self.cursor = max(self.cursor, event.seq)
        if event.type.startswith(c.WORKFLOW_PREFIX) and event.run_id:
            self._workflow(event, event.run_id)
        elif event.type.startswith(c.WORKSPACE_PREFIX) and event.repo:
            self._workspace(event, event.repo)
        elif event.type.startswith(c.SYNC_PREFIX) and event.repo:
            self._sync(event, event.repo)

    def _workflow(self, event: Event, run_id: str) -> None:
        when = event.time.timestamp()
        if event.type in (c.RUN_STARTED.name, c.RUN_RESUMED.name):
            row = self.runs.get(run_id)
            if row is None:
                row = RunRow(run_id, event.data.get("workflow", "?"), "running", when)
                self.runs[run_id] = row
                self._trim_runs()
            row.status, row.finished = "running", None
            row.total = event.data.get("steps", row.total)
            row.correlation_id = row.correlation_id or event.correlation_id
        elif event.type == c.RUN_FINISHED.name and run_id in self.runs:
            row = self.runs[run_id]
            row.status, row.finished = event.data.get("status", row.status), when
        elif event.type == c.RUN_INTERRUPTED.name and run_id in self.runs:
            self.runs[run_id].status = "interrupted"
        elif event.type.startswith(c.STEP_PREFIX) and event.step:
            self._step(event, run_id, event.step, when)

    def _step(self, event: Event, run_id: str, key: str, when: float) -> None:
        if event.type == c.STEP_LOG.name:
            self.add_log(run_id, key, str(event.data.get("text", "")))
            return
        steps = self.steps.setdefault(run_id, {})
        row = steps.setdefault(key, StepRow(key, key.split("[", 1)[0], event.repo))
        data: dict[str, Any] = event.data
        row.live = True
        row.attempts = max(row.attempts, int(data.get("attempt", 0)))
        if event.type == c.STEP_STARTED.name:
            row.status, row.retried_at = "running", None
            row.started = row.started or when
        elif event.type == c.STEP_RETRYING.name:
            row.status, row.error = "retrying", data.get("error") or data.get("reason")
            row.retried_at = when
        elif event.type == c.STEP_FINISHED.name:
            row.status, row.finished, row.retried_at = data.get("status", "?"), when, None
            row.outputs = dict(data.get("outputs") or {})
            row.error = data.get("error") or data.get("reason")
            run = self.runs.get(run_id)
            if run is not None:
                run.done += 1

    def add_status(self, name: str, data: dict[str, Any]) -> None:
        """One repo's status (the shape of ``nestr status --json``) from the status query."""
        row = self.repos.setdefault(name, RepoRow(name))
        row.branch = data.get("branch") or ("(detached)" if data.get("detached") else "")
        row.commit = (data.get("commit") or "")[:12]
        row.dirty = sum((data.get("changes") or {}).values())
        row.ahead, row.behind = data.get("ahead"), data.get("behind")
        row.drift = (data.get("lock") or {}).get("state") or ""

    def retry_due(self, run_id: str, row: StepRow) -> float | None:
        """When the next attempt of a step waiting to be retried starts at the latest (its
        policy's backoff cap: a jittered wait ends earlier); None when unknown."""
        policy = self.policies.get(run_id, {}).get(row.step_id)
        if row.retried_at is None or policy is None:
            return None
        from nestr.workflow.retry import backoff  # with a policy: the workflow is loaded

        return row.retried_at + backoff(policy, row.attempts)

    def _workspace(self, event: Event, name: str) -> None:
        """An assembly's progress per repo; any workspace event makes the status stale."""
        self.workspace_changed = True
        row = self.repos.setdefault(name, RepoRow(name))
        data: dict[str, Any] = event.data
        if event.type == c.STATUS_REPO.name:
            self.add_status(name, data)
        elif event.type == c.REPO_STARTED.name:
            row.assembly = "started"
        elif event.type == c.REPO_FETCHED.name:
            row.assembly = "fetched"
        elif event.type in c.REPO_ENDED:
            row.assembly = str(data.get("status", event.type.rsplit(".", 1)[-1]))
            row.commit = (data.get("commit") or row.commit)[:12]

    def _sync(self, event: Event, repo: str) -> None:
        self.workspace_changed = True
        if repo in self._closed_syncs or repo not in self.syncs:  # a new sync of the repo
            self.syncs[repo] = SyncRow(repo)
            self._closed_syncs.discard(repo)
        row = self.syncs[repo]
        data: dict[str, Any] = event.data
        if event.type == c.SYNC_FILE_CONFLICT.name:
            row.conflicts[str(data.get("path"))] = str(data.get("detail", ""))
        elif event.type == c.SYNC_REPO_FINISHED.name:
            counts: dict[str, int] = data.get("counts") or {}
            row.written = len(data.get("written") or ())
            row.merged = counts.get("merge", 0)
            row.skipped = sum(counts.get(k, 0) for k in SKIPPED)
            row.error = data.get("error")
            self._closed_syncs.add(repo)

    # --- helpers -----------------------------------------------------------------------------

    def _trim_runs(self) -> None:
        if len(self.runs) <= MAX_RUNS:
            return
        for run_id in sorted(self.runs, key=lambda r: self.runs[r].started)[: -MAX_RUNS or None]:
            self.runs.pop(run_id, None)
            self.steps.pop(run_id, None)

    def sorted_runs(self) -> list[RunRow]:
        """Newest first."""
        return sorted(self.runs.values(), key=lambda r: r.started, reverse=True)


def _shown(record: RunRecord) -> str:
    from nestr.workflow.liveness import shown_status

    return shown_status(record)
