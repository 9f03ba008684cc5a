"""What :class:`EventMetrics` counts from plain events, and which label values it allows."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY, generate_latest

from nestr.events import Event
from nestr.events import catalog as c
from nestr.watchers.metrics import RUNS_REMEMBERED, EventMetrics

from .metrics_helpers import samples, value


def feed(*events: Event) -> tuple[EventMetrics, str]:
    metrics = EventMetrics()
    for seq, event in enumerate(events, start=1):
        metrics.observe(Event(event.type, event.data, seq=seq, run_id=event.run_id))
    return metrics, generate_latest(metrics.registry()).decode()


def event(kind: c.EventType[Any], run_id: str | None = None, **data: Any) -> Event:
    return Event(kind.name, data, run_id=run_id)


def test_runs_are_counted_by_workflow_and_status_without_run_ids() -> None:
    """A run's end is counted under the workflow its start named, its duration observed; a run
    whose start was never seen counts as `unknown`; no run id appears in the exposition."""
    _, text = feed(
        event(c.RUN_STARTED, "run-aaaa", workflow="build", inputs={}, steps=2),
        event(c.RUN_FINISHED, "run-aaaa", status="failed", seconds=1.5),
        event(c.RUN_RESUMED, "run-bbbb", workflow="deploy", done=1, steps=2),
        event(c.RUN_FINISHED, "run-bbbb", status="succeeded", seconds=0.2),
        event(c.RUN_FINISHED, "run-cccc", status="cancelled", reason="by someone"),
    )
    found = samples(text)
    assert value(found, "nestr_runs_started_total", workflow="build") == 1
    assert value(found, "nestr_runs_started_total", workflow="deploy") == 1
    assert value(found, "nestr_runs_total", workflow="build", status="failed") == 1
    assert value(found, "nestr_runs_total", workflow="deploy", status="succeeded") == 1
    assert value(found, "nestr_runs_total", workflow="unknown", status="cancelled") == 1
    assert value(found, "nestr_run_duration_seconds_sum", workflow="build") == 1.5
    assert value(found, "nestr_run_duration_seconds_count", workflow="unknown") == 0
    assert "run-" not in text


def test_attempts_and_steps_are_counted_apart() -> None:
    """A failed try that is retried counts as an attempt, not a step; a final try counts as
    both; a step that never ran (attempt 0) counts as a step only and has no duration."""
    _, text = feed(
        event(c.STEP_RETRYING, attempt=1, status="timed_out", seconds=0.5),
        event(c.STEP_FINISHED, attempt=2, status="succeeded", seconds=0.25),
        event(c.STEP_FINISHED, attempt=0, status="skipped", reason="a need failed"),
    )
    found = samples(text)
    assert value(found, "nestr_step_attempts_total", status="timed_out") == 1
    assert value(found, "nestr_step_attempts_total", status="succeeded") == 1
    assert value(found, "nestr_step_attempts_total", status="skipped") == 0
    assert value(found, "nestr_steps_total", status="succeeded") == 1
    assert value(found, "nestr_steps_total", status="skipped") == 1
    assert value(found, "nestr_step_attempt_duration_seconds_count") == 2
    assert value(found, "nestr_step_attempt_duration_seconds_sum") == 0.75


def test_sync_and_webhook_outcomes() -> None:
    """Sync files count by action (conflicts as `conflict`), repos by error or not; webhook
    delivery events count by endpoint name and outcome."""
    file = {"path": "x", "policy": "overwrite", "detail": ""}
    repo = {"counts": {}, "written": [], "commit": None, "branch": None, "pushed": False,
            "not_committed": [], "local_edits_committed": []}  # fmt: skip
    _, text = feed(
        event(c.SYNC_FILE_CREATED, **file),
        event(c.SYNC_FILE_CONFLICT, **file),
        event(c.SYNC_FILE_CONFLICT, **file),
        event(c.SYNC_REPO_FINISHED, **repo, error=None),
        event(c.SYNC_REPO_FINISHED, **repo, error="push refused"),
        Event("nestr.webhook.delivered", {"endpoint": "ci", "status": 200}),
        Event("nestr.webhook.failed", {"endpoint": "ci", "status": 500}),
        Event("nestr.webhook.disabled", {"endpoint": "ci", "status": 410}),
    )
    found = samples(text)
    assert value(found, "nestr_sync_files_total", action="created") == 1
    assert value(found, "nestr_sync_files_total", action="conflict") == 2
    assert value(found, "nestr_sync_repos_total", outcome="ok") == 1
    assert value(found, "nestr_sync_repos_total", outcome="error") == 1
    for outcome in ("delivered", "failed", "disabled"):
        assert value(found, "nestr_webhook_deliveries_total", endpoint="ci", outcome=outcome) == 1


def test_event_types_outside_the_catalogue_share_one_label() -> None:
    """Catalogued types are counted by name; any other type as `other`, so a producer of
    arbitrary types cannot grow the number of series; the last seq is exported."""
    _, text = feed(
        event(c.STEP_STARTED, attempt=1),
        Event("nestr.test.one", {}),
        Event("plugin.made.up", {}),
    )
    found = samples(text)
    assert value(found, "nestr_events_total", type=c.STEP_STARTED.name) == 1
    assert value(found, "nestr_events_total", type="other") == 2
    assert value(found, "nestr_event_seq") == 3
    assert "made.up" not in text


def test_unfinished_runs_are_remembered_up_to_a_bound() -> None:
    """Runs that start and never end cost at most RUNS_REMEMBERED entries: the oldest is
    forgotten (its end counts as `unknown`), the newest is still named."""
    metrics = EventMetrics()
    for n in range(RUNS_REMEMBERED + 1):
        metrics.observe(event(c.RUN_STARTED, f"r{n}", workflow="w", inputs={}, steps=1))
    metrics.observe(event(c.RUN_FINISHED, "r0", status="failed"))
    metrics.observe(event(c.RUN_FINISHED, f"r{RUNS_REMEMBERED}", status="failed"))
    found = samples(generate_latest(metrics.registry()).decode())
    assert value(found, "nestr_runs_total", workflow="unknown", status="failed") == 1
    assert value(found, "nestr_runs_total", workflow="w", status="failed") == 1


def test_each_watcher_has_its_own_registry() -> None:
    """Two watchers never share counts, and neither registers in prometheus_client's global
    registry."""
    _, first = feed(event(c.STEP_STARTED, attempt=1))
    second = generate_latest(EventMetrics().registry()).decode()
    assert value(samples(first), "nestr_events_total", type=c.STEP_STARTED.name) == 1
    assert value(samples(second), "nestr_events_total", type=c.STEP_STARTED.name) == 0
    assert "nestr_events_total" not in generate_latest(REGISTRY).decode()


def test_histogram_buckets_are_cumulative_and_bounds_inclusive() -> None:
    """A duration on a bucket's bound counts in that bucket (`le`), buckets are cumulative,
    and one beyond every bound counts only in `+Inf`; sum and count are the observations'."""
    _, text = feed(
        event(c.STEP_FINISHED, attempt=1, status="succeeded", seconds=0.01),
        event(c.STEP_FINISHED, attempt=1, status="succeeded", seconds=0.02),
        event(c.STEP_FINISHED, attempt=1, status="succeeded", seconds=7200.0),
    )
    found = samples(text)
    name = "nestr_step_attempt_duration_seconds"
    assert value(found, f"{name}_bucket", le="0.005") == 0
    assert value(found, f"{name}_bucket", le="0.01") == 1
    assert value(found, f"{name}_bucket", le="0.05") == 2
    assert value(found, f"{name}_bucket", le="3600.0") == 2
    assert value(found, f"{name}_bucket", le="+Inf") == 3
    assert value(found, f"{name}_count") == 3
    assert value(found, f"{name}_sum") == pytest.approx(7200.03)
