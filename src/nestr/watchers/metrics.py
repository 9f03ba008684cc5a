"""Prometheus metrics derived from events: :class:`EventMetrics` counts, a registry of its own
serves.

:meth:`EventMetrics.observe` takes every event of the log, in ``seq`` order, and counts what it
reports: runs, steps and attempts by outcome, run and step durations, assemblies and the
per-repo git work in them, sync files, webhook deliveries, plugin calls, starts and crashes,
and the events themselves. Nothing
here reads the store or knows who produced an event: the same events give the same numbers in
``nestr serve`` and in ``nestr metrics serve`` (docs/metrics.md lists every metric).

Counting is plain dictionary arithmetic on the event loop (a 1,000-step run brings thousands of
events, and ``prometheus_client``'s metric objects take a lock and check their labels on every
update); the counts become Prometheus metric families only when a scrape asks for them
(:meth:`EventMetrics.collect`, on the HTTP server's thread, from copies of the tallies).

Labels hold bounded values only: outcomes (statuses the store defines), event types of the
catalogue (any other type counts as ``other``), and the names a user configures in a handful:
workflow names (from the manifest), webhook endpoint names (from the config) and plugin names
(the plugins: setting, installed entry points, ``nestr-plugin-*`` on PATH). Run ids, step
keys, repo names and paths never become labels: each new one would be a new time series.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from nestr.events import catalog as c

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from nestr.events import Event

# bucket bounds in seconds, from a noop step (milliseconds) to a long build (an hour)
STEP_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
RUN_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200)
GIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# a warm plugin call costs about a millisecond; a start a few tenths of a second
PLUGIN_CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300, 3600)
PLUGIN_START_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# webhook delivery events (emitted by the webhook sender; data: endpoint, status)
WEBHOOK_OUTCOMES = {
    "nestr.webhook.delivered": "delivered",
    "nestr.webhook.failed": "failed",
    "nestr.webhook.disabled": "disabled",
}
UNKNOWN_WORKFLOW = "unknown"  # a run whose start this watcher never saw
OTHER_TYPE = "other"  # an event type outside the catalogue (a plugin's, a test's)
RUNS_REMEMBERED = 10_000  # unfinished runs whose workflow name is kept for their end

Labels = tuple[str, ...]


@dataclass
class Counter:
    """A counter family: a total per label values."""

    name: str  # without `_total`, which the exposition adds
    help: str
    labels: Labels = ()
    values: dict[Labels, float] = field(default_factory=dict)

    def inc(self, *labels: str) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + 1.0

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.help, labels=self.labels)
        for labels, value in list(self.values.items()):  # a copy: the loop may add a key
            family.add_metric(labels, value)
        return family


@dataclass
class Histogram:
    """A histogram family: per label values, the count in each bucket, the sum and count."""

    name: str
    help: str
    bounds: tuple[float, ...]
    labels: Labels = ()
    series: dict[Labels, list[float]] = field(default_factory=dict)  # buckets..., +Inf, sum

    def observe(self, value: float, *labels: str) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = [0.0] * (len(self.bounds) + 2)
        series[bisect_left(self.bounds, value)] += 1  # le: a value on a bound counts in it
        series[-1] += value

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.help, labels=self.labels)
        edges = [*map(_le, self.bounds), "+Inf"]
        for labels, series in list(self.series.items()):
            counts, total, running = series[:-1], series[-1], 0.0
            buckets = []
            for edge, count in zip(edges, counts, strict=True):
                running += count
                buckets.append((edge, running))
            family.add_metric(labels, buckets, total)
        return family


def _le(bound: float) -> str:
    return repr(float(bound))


class EventMetrics(Collector):
    """The metrics of one watcher, served from a registry of its own (never the
    process-global one, so two watchers, or a test and a server, never share counts)."""

    def __init__(self) -> None:
        self.last_seq = 0
        self._workflows: dict[str, str] = {}  # run id -> workflow name, until the run ends
        self.runs_started = Counter(
            "nestr_runs_started", "Workflow runs started or resumed.", ("workflow",)
        )
        self.runs = Counter(
            "nestr_runs", "Workflow runs ended, by final status.", ("workflow", "status")
        )
        self.run_seconds = Histogram(
            "nestr_run_duration_seconds", "Wall time of workflow runs that ended.",
            RUN_BUCKETS, ("workflow",),
        )  # fmt: skip
        self.steps = Counter(
            "nestr_steps", "Workflow steps that reached a final status, by status.", ("status",)
        )
        self.attempts = Counter(
            "nestr_step_attempts", "Tries of workflow steps that ended, by how they ended.",
            ("status",),
        )  # fmt: skip
        self.step_seconds = Histogram(
            "nestr_step_attempt_duration_seconds", "Wall time of each try of a workflow step.",
            STEP_BUCKETS,
        )  # fmt: skip
        self.assemblies = Counter(
            "nestr_assemblies", "Assemblies that ended, by outcome (ok, failed).", ("outcome",)
        )
        self.assembly_seconds = Histogram(
            "nestr_assembly_duration_seconds", "Wall time of assemblies.", RUN_BUCKETS
        )
        self.assembly_repos = Counter(
            "nestr_assembly_repos", "Repos an assembly dealt with, by result.", ("status",)
        )
        self.repo_seconds = Histogram(
            "nestr_assembly_repo_duration_seconds",
            "Wall time of one repo's assembly (fetch, checkout or update).", GIT_BUCKETS,
        )  # fmt: skip
        self.mirror_fetches = Counter(
            "nestr_mirror_fetches",
            "Mirrors an assembly needed, by whether git fetched (fetched) or not (fresh).",
            ("result",),
        )  # fmt: skip
        self.fetch_seconds = Histogram(
            "nestr_git_fetch_duration_seconds", "Wall time of the git fetches of mirrors.",
            GIT_BUCKETS,
        )  # fmt: skip
        self.sync_files = Counter(
            "nestr_sync_files",
            "Shared files sync acted on, by action (created, updated, merged, deleted, conflict).",
            ("action",),
        )  # fmt: skip
        self.sync_repos = Counter(
            "nestr_sync_repos", "Repos sync ended in, by outcome (ok, error).", ("outcome",)
        )
        self.webhooks = Counter(
            "nestr_webhook_deliveries", "Webhook delivery tries, by endpoint and outcome.",
            ("endpoint", "outcome"),
        )  # fmt: skip
        self.plugin_calls = Counter(
            "nestr_plugin_calls", "Plugin step calls (Execute) that ended, by plugin and outcome.",
            ("plugin", "outcome"),
        )  # fmt: skip
        self.plugin_call_seconds = Histogram(
            "nestr_plugin_call_duration_seconds", "Wall time of plugin step calls, by plugin.",
            PLUGIN_CALL_BUCKETS, ("plugin",),
        )  # fmt: skip
        self.plugin_starts = Counter(
            "nestr_plugin_starts", "Plugin processes started (restarts included).", ("plugin",)
        )
        self.plugin_start_seconds = Histogram(
            "nestr_plugin_start_duration_seconds",
            "Time from a plugin's spawn to its Describe answered.",
            PLUGIN_START_BUCKETS, ("plugin",),
        )  # fmt: skip
        self.plugin_crashes = Counter(
            "nestr_plugin_crashes", "Plugin processes that died while in use.", ("plugin",)
        )
        self.events = Counter("nestr_events", "Events appended to the log, by type.", ("type",))
        self.families: tuple[Counter | Histogram, ...] = tuple(
            v for v in vars(self).values() if isinstance(v, Counter | Histogram)
        )
        self._handlers = self._dispatch()

    def _dispatch(self) -> dict[str, Callable[[Event], None]]:
        handlers: dict[str, Callable[[Event], None]] = {
            c.RUN_STARTED.name: self._run_started,
            c.RUN_RESUMED.name: self._run_resumed,
            c.RUN_FINISHED.name: self._run_finished,
            c.STEP_RETRYING.name: self._step_retrying,
            c.STEP_FINISHED.name: self._step_finished,
            c.REPO_FETCHED.name: self._repo_fetched,
            c.ASSEMBLY_FINISHED.name: self._assembly_finished,
            c.SYNC_REPO_FINISHED.name: self._sync_repo_finished,
            c.PLUGIN_CALLS.name: self._plugin_calls,
            c.PLUGIN_STARTED.name: self._plugin_started,
            c.PLUGIN_CRASHED.name: self._plugin_crashed,
        }
        handlers.update(dict.fromkeys(c.REPO_ENDED, self._repo_ended))
        handlers.update(dict.fromkeys(WEBHOOK_OUTCOMES, self._webhook))
        handlers.update(dict.fromkeys(_SYNC_ACTIONS, self._sync_file))
        return handlers

    def registry(self) -> CollectorRegistry:
        """A new registry holding these metrics (and nothing of the process-global one)."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return registry

    def collect(self) -> Iterable[Metric]:
        """The metric families as of now (called by a scrape, on the HTTP server's thread)."""
        for family in self.families:
            yield family.family()
        yield GaugeMetricFamily(
            "nestr_event_seq", "The seq of the last event this watcher counted.", self.last_seq
        )

    def observe(self, event: Event) -> None:
        """Count ``event`` (events arrive once each, in ``seq`` order).

        Every event of the log comes here (two or three per step), so the common path is
        a few dictionary operations: the label tuple of each catalogued type is made once."""
        kind = event.type
        labels = _TYPE_LABELS.get(kind, _OTHER_LABELS)
        counts = self.events.values
        counts[labels] = counts.get(labels, 0.0) + 1.0
        if event.seq is not None:
            self.last_seq = event.seq
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(event)

    # --- workflows

    def _remember(self, run_id: str | None, workflow: str) -> None:
        if run_id is not None:
            if len(self._workflows) >= RUNS_REMEMBERED:  # runs that never ended: forget one
                del self._workflows[next(iter(self._workflows))]
            self._workflows[run_id] = workflow
        self.runs_started.inc(workflow)

    def _run_started(self, event: Event) -> None:
        self._remember(event.run_id, c.RUN_STARTED.data_of(event)["workflow"])

    def _run_resumed(self, event: Event) -> None:
        self._remember(event.run_id, c.RUN_RESUMED.data_of(event)["workflow"])

    def _run_finished(self, event: Event) -> None:
        data = c.RUN_FINISHED.data_of(event)
        workflow = self._workflows.pop(event.run_id or "", UNKNOWN_WORKFLOW)
        self.runs.inc(workflow, data["status"])
        if "seconds" in data:
            self.run_seconds.observe(data["seconds"], workflow)

    def _step_retrying(self, event: Event) -> None:
        data = c.STEP_RETRYING.data_of(event)
        self.attempts.inc(data["status"])
        if "seconds" in data:
            self.step_seconds.observe(data["seconds"])

    def _step_finished(self, event: Event) -> None:
        data = c.STEP_FINISHED.data_of(event)
        status = (data["status"],)
        steps = self.steps.values
        steps[status] = steps.get(status, 0.0) + 1.0
        if data["attempt"] > 0:  # attempt 0: the step never ran (skipped, cancelled)
            attempts = self.attempts.values
            attempts[status] = attempts.get(status, 0.0) + 1.0
            if "seconds" in data:
                self.step_seconds.observe(data["seconds"])

    # --- workspaces, sync and webhooks

    def _repo_fetched(self, event: Event) -> None:
        data = c.REPO_FETCHED.data_of(event)
        self.mirror_fetches.inc("fetched" if data["fetched"] else "fresh")
        if data["fetched"]:
            self.fetch_seconds.observe(data["seconds"])

    def _repo_ended(self, event: Event) -> None:
        data = c.REPO_CHECKED_OUT.data_of(event)  # the three types share their data
        self.assembly_repos.inc(data["status"])
        self.repo_seconds.observe(data["seconds"])

    def _assembly_finished(self, event: Event) -> None:
        data = c.ASSEMBLY_FINISHED.data_of(event)
        self.assemblies.inc("ok" if data["ok"] else "failed")
        self.assembly_seconds.observe(data["seconds"])

    def _sync_file(self, event: Event) -> None:
        self.sync_files.inc(_SYNC_ACTIONS[event.type])

    def _sync_repo_finished(self, event: Event) -> None:
        data = c.SYNC_REPO_FINISHED.data_of(event)
        self.sync_repos.inc("ok" if data["error"] is None else "error")

    # --- plugins (names come from the plugins: setting, entry points and PATH: a handful)

    def _plugin_calls(self, event: Event) -> None:
        data = c.PLUGIN_CALLS.data_of(event)
        plugin = data["plugin"]
        for call in data["calls"]:
            self.plugin_calls.inc(plugin, call["outcome"])
            self.plugin_call_seconds.observe(call["seconds"], plugin)

    def _plugin_started(self, event: Event) -> None:
        data = c.PLUGIN_STARTED.data_of(event)
        self.plugin_starts.inc(data["plugin"])
        self.plugin_start_seconds.observe(data["seconds"], data["plugin"])

    def _plugin_crashed(self, event: Event) -> None:
        self.plugin_crashes.inc(c.PLUGIN_CRASHED.data_of(event)["plugin"])

    def _webhook(self, event: Event) -> None:
        data: dict[str, Any] = event.data
        self.webhooks.inc(str(data.get("endpoint") or "unknown"), WEBHOOK_OUTCOMES[event.type])


_TYPE_LABELS: dict[str, Labels] = {name: (name,) for name in c.BY_NAME}
_OTHER_LABELS: Labels = (OTHER_TYPE,)

_SYNC_ACTIONS = {
    c.SYNC_FILE_CREATED.name: "created",
    c.SYNC_FILE_UPDATED.name: "updated",
    c.SYNC_FILE_MERGED.name: "merged",
    c.SYNC_FILE_DELETED.name: "deleted",
    c.SYNC_FILE_CONFLICT.name: "conflict",
}
