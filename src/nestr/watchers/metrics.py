"""Prometheus metrics derived from events: one :class:`EventMetrics` per watcher, own registry.

:meth:`EventMetrics.observe` takes every event of the log, in ``seq`` order, and counts what it
reports: runs, steps and attempts by outcome, run and step durations, assemblies and the
per-repo git work in them, sync files, webhook deliveries, and the events themselves. Nothing
here reads the store or knows who produced an event: the same events give the same numbers in
``nestr serve`` and in ``nestr metrics serve`` (docs/metrics.md lists every metric).

Labels hold bounded values only: outcomes (statuses the store defines), event types of the
catalogue (any other type counts as ``other``), and the names a user configures in a handful:
workflow names (from the manifest) and webhook endpoint names (from the config). Run ids, step
keys, repo names and paths never become labels: each new one would be a new time series.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from nestr.events import catalog as c

if TYPE_CHECKING:
    from nestr.events import Event

# bucket bounds in seconds, from a noop step (milliseconds) to a long build (an hour)
STEP_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
RUN_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200)
GIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

# webhook delivery events (emitted by the webhook sender; data: endpoint, status)
WEBHOOK_OUTCOMES = {
    "nestr.webhook.delivered": "delivered",
    "nestr.webhook.failed": "failed",
    "nestr.webhook.disabled": "disabled",
}
UNKNOWN_WORKFLOW = "unknown"  # a run whose start this watcher never saw
OTHER_TYPE = "other"  # an event type outside the catalogue (a plugin's, a test's)
RUNS_REMEMBERED = 10_000  # unfinished runs whose workflow name is kept for their end

# No `_created` series: counters are totals over the log, replayed when a watcher starts, so the
# time a series was created in this process says nothing (and it doubles the series). The switch
# is prometheus_client's, for the whole process; nestr exports no other metrics.
disable_created_metrics()  # type: ignore[no-untyped-call]


class _Children:
    """The labelled children of one metric, looked up once per label values: the events of a
    1,000-step run pass here thousands of times, and ``labels()`` checks and locks each time."""

    __slots__ = ("_cache", "_metric")

    def __init__(self, metric: Counter | Histogram) -> None:
        self._metric = metric
        self._cache: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self._metric.labels(*values)
        return child


class EventMetrics:
    """The metrics of one watcher, in a registry of its own (never the process-global one,
    so two watchers, or a test and a server, never share counts)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.last_seq = 0
        self._workflows: dict[str, str] = {}  # run id -> workflow name, until the run ends
        self._define_workflow(self.registry)
        self._define_workspace(self.registry)
        self._define_other(self.registry)
        self._handlers: dict[str, Callable[[Event], None]] = {
            c.RUN_STARTED.name: self._run_started,
            c.RUN_RESUMED.name: self._run_resumed,
            c.RUN_FINISHED.name: self._run_finished,
            c.STEP_RETRYING.name: self._step_retrying,
            c.STEP_FINISHED.name: self._step_finished,
            c.REPO_FETCHED.name: self._repo_fetched,
            c.ASSEMBLY_FINISHED.name: self._assembly_finished,
            c.SYNC_REPO_FINISHED.name: self._sync_repo_finished,
            **dict.fromkeys(c.REPO_ENDED, self._repo_ended),
            **dict.fromkeys(WEBHOOK_OUTCOMES, self._webhook),
        }
        for name in _SYNC_ACTIONS:
            self._handlers[name] = self._sync_file

    def _define_workflow(self, registry: CollectorRegistry) -> None:
        self.runs_started = _Children(
            Counter(
                "nestr_runs_started_total",
                "Workflow runs started or resumed.",
                ["workflow"],
                registry=registry,
            )
        )
        self.runs = _Children(
            Counter(
                "nestr_runs_total",
                "Workflow runs ended, by final status.",
                ["workflow", "status"],
                registry=registry,
            )
        )
        self.run_seconds = _Children(
            Histogram(
                "nestr_run_duration_seconds",
                "Wall time of workflow runs that ended.",
                ["workflow"],
                buckets=RUN_BUCKETS,
                registry=registry,
            )
        )
        self.steps = _Children(
            Counter(
                "nestr_steps_total",
                "Workflow steps that reached a final status, by status.",
                ["status"],
                registry=registry,
            )
        )
        self.attempts = _Children(
            Counter(
                "nestr_step_attempts_total",
                "Tries of workflow steps that ended, by how they ended.",
                ["status"],
                registry=registry,
            )
        )
        self.step_seconds = Histogram(
            "nestr_step_attempt_duration_seconds",
            "Wall time of each try of a workflow step.",
            buckets=STEP_BUCKETS,
            registry=registry,
        )

    def _define_workspace(self, registry: CollectorRegistry) -> None:
        self.assemblies = _Children(
            Counter(
                "nestr_assemblies_total",
                "Assemblies that ended, by outcome (ok, failed).",
                ["outcome"],
                registry=registry,
            )
        )
        self.assembly_seconds = Histogram(
            "nestr_assembly_duration_seconds",
            "Wall time of assemblies.",
            buckets=RUN_BUCKETS,
            registry=registry,
        )
        self.assembly_repos = _Children(
            Counter(
                "nestr_assembly_repos_total",
                "Repos an assembly dealt with, by result.",
                ["status"],
                registry=registry,
            )
        )
        self.repo_seconds = Histogram(
            "nestr_assembly_repo_duration_seconds",
            "Wall time of one repo's assembly (fetch, checkout or update).",
            buckets=GIT_BUCKETS,
            registry=registry,
        )
        self.mirror_fetches = _Children(
            Counter(
                "nestr_mirror_fetches_total",
                "Mirrors an assembly needed, by whether git fetched (fetched) or not (fresh).",
                ["result"],
                registry=registry,
            )
        )
        self.fetch_seconds = Histogram(
            "nestr_git_fetch_duration_seconds",
            "Wall time of the git fetches of mirrors.",
            buckets=GIT_BUCKETS,
            registry=registry,
        )

    def _define_other(self, registry: CollectorRegistry) -> None:
        self.sync_files = _Children(
            Counter(
                "nestr_sync_files_total",
                "Shared files sync acted on, by action (created, updated, merged, deleted, "
                "conflict).",
                ["action"],
                registry=registry,
            )
        )
        self.sync_repos = _Children(
            Counter(
                "nestr_sync_repos_total",
                "Repos sync ended in, by outcome (ok, error).",
                ["outcome"],
                registry=registry,
            )
        )
        self.webhooks = _Children(
            Counter(
                "nestr_webhook_deliveries_total",
                "Webhook delivery tries, by endpoint and outcome.",
                ["endpoint", "outcome"],
                registry=registry,
            )
        )
        self.events = _Children(
            Counter(
                "nestr_events_total",
                "Events appended to the log, by type.",
                ["type"],
                registry=registry,
            )
        )
        seq = Gauge(
            "nestr_event_seq",
            "The seq of the last event this watcher counted.",
            registry=registry,
        )
        seq.set_function(lambda: self.last_seq)  # read at a scrape, not set per event

    def observe(self, event: Event) -> None:
        """Count ``event`` (events arrive once each, in ``seq`` order)."""
        kind = event.type
        self.events(kind if kind in c.BY_NAME else OTHER_TYPE).inc()
        if event.seq is not None:
            self.last_seq = event.seq
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(event)

    # --- workflows

    def _workflow(self, run_id: str | None) -> str:
        return self._workflows.get(run_id or "", UNKNOWN_WORKFLOW)

    def _remember(self, run_id: str | None, workflow: str) -> None:
        if run_id is None:
            return
        if len(self._workflows) >= RUNS_REMEMBERED:  # runs that never ended: forget the oldest
            del self._workflows[next(iter(self._workflows))]
        self._workflows[run_id] = workflow
        self.runs_started(workflow).inc()

    def _run_started(self, event: Event) -> None:
        self._remember(event.run_id, c.RUN_STARTED.data_of(event)["workflow"])

    def _run_resumed(self, event: Event) -> None:
        self._remember(event.run_id, c.RUN_RESUMED.data_of(event)["workflow"])

    def _run_finished(self, event: Event) -> None:
        data = c.RUN_FINISHED.data_of(event)
        workflow = self._workflows.pop(event.run_id or "", UNKNOWN_WORKFLOW)
        self.runs(workflow, data["status"]).inc()
        if "seconds" in data:
            self.run_seconds(workflow).observe(data["seconds"])

    def _step_retrying(self, event: Event) -> None:
        data = c.STEP_RETRYING.data_of(event)
        self.attempts(data["status"]).inc()
        if "seconds" in data:
            self.step_seconds.observe(data["seconds"])

    def _step_finished(self, event: Event) -> None:
        data = c.STEP_FINISHED.data_of(event)
        self.steps(data["status"]).inc()
        if data["attempt"] > 0:  # attempt 0: the step never ran (skipped, cancelled)
            self.attempts(data["status"]).inc()
            if "seconds" in data:
                self.step_seconds.observe(data["seconds"])

    # --- workspaces and sync

    def _repo_fetched(self, event: Event) -> None:
        data = c.REPO_FETCHED.data_of(event)
        self.mirror_fetches("fetched" if data["fetched"] else "fresh").inc()
        if data["fetched"]:
            self.fetch_seconds.observe(data["seconds"])

    def _repo_ended(self, event: Event) -> None:
        data = c.REPO_CHECKED_OUT.data_of(event)  # the three types share their data
        self.assembly_repos(data["status"]).inc()
        self.repo_seconds.observe(data["seconds"])

    def _assembly_finished(self, event: Event) -> None:
        data = c.ASSEMBLY_FINISHED.data_of(event)
        self.assemblies("ok" if data["ok"] else "failed").inc()
        self.assembly_seconds.observe(data["seconds"])

    def _sync_file(self, event: Event) -> None:
        self.sync_files(_SYNC_ACTIONS[event.type]).inc()

    def _sync_repo_finished(self, event: Event) -> None:
        data = c.SYNC_REPO_FINISHED.data_of(event)
        self.sync_repos("ok" if data["error"] is None else "error").inc()

    def _webhook(self, event: Event) -> None:
        data: dict[str, Any] = event.data
        endpoint = str(data.get("endpoint") or "unknown")
        self.webhooks(endpoint, WEBHOOK_OUTCOMES[event.type]).inc()


_SYNC_ACTIONS = {
    c.SYNC_FILE_CREATED.name: "created",
    c.SYNC_FILE_UPDATED.name: "updated",
    c.SYNC_FILE_MERGED.name: "merged",
    c.SYNC_FILE_DELETED.name: "deleted",
    c.SYNC_FILE_CONFLICT.name: "conflict",
}
