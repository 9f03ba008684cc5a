"""What a run writes about its steps reads back exactly: step events carry the instance's
fields and catalogued types, and a recorded definition restores the workflow."""

from __future__ import annotations

import re

from nestr.events import Event, catalog
from nestr.manifest.model import RepoSpec
from nestr.workflow.model import RepoSelector, RetryPolicy, StepDef, Workflow
from nestr.workflow.plan import Instance
from nestr.workflow.stepevents import StepEvents


def test_step_events_equal_events_built_by_their_constructor() -> None:
    """A step event equals ``Event(...)`` with the same fields, id and time; a failure is an
    error, a given severity wins, and the id is a version 4 UUID in hex."""
    repo = RepoSpec(name="api", url="https://example.invalid/api.git", revision="main", path="api")
    events = StepEvents("run1")
    cases: list[tuple[Instance, catalog.EventType, dict, str | None]] = [
        (Instance("a", StepDef("a", "noop"), None, ()), catalog.STEP_STARTED, {"attempt": 1}, None),
        (
            Instance("b[api]", StepDef("b", "noop"), repo, ()),
            catalog.STEP_FINISHED,
            {"status": "failed", "attempt": 1},
            None,
        ),
        (
            Instance("c", StepDef("c", "noop"), None, ()),
            catalog.STEP_LOG,
            {"stream": "stdout", "text": "x", "attempt": 1},
            "debug",
        ),
    ]
    ids = set()
    for instance, kind, data, severity in cases:
        made = events.event(instance, kind, data, severity)
        expected = Event(
            type=kind.name,
            data=data,
            subject=instance.key,
            run_id="run1",
            step=instance.key,
            repo=instance.repo.name if instance.repo else None,
            severity=severity or ("error" if data.get("status") == "failed" else "info"),
            id=made.id,
            time=made.time,
        )
        assert made == expected
        assert re.fullmatch(r"[0-9a-f]{32}", made.id)
        ids.add(made.id)
    assert len(ids) == len(cases)


def test_a_recorded_definition_restores_the_workflow() -> None:
    """``Workflow.from_dict(to_dict())`` gives the same workflow, for steps with every field
    set and for steps left at their defaults (which the record leaves out)."""
    full = StepDef(
        id="full",
        uses="shell",
        with_={"command": "echo hi", "shell": True},
        needs=("bare",),
        condition="${{ inputs.go }}",
        foreach=RepoSelector(groups=("g",), names=("api",), all=False),
        cwd="sub",
        env={"K": "v"},
        retry=RetryPolicy(attempts=3, backoff="fixed", initial=2.0, max=9.0, jitter=False),
        timeout=5.0,
        continue_on_error=True,
    )
    workflow = Workflow(name="wf", steps=(StepDef(id="bare", uses="noop"), full), concurrency=2)
    recorded = workflow.to_dict()
    assert recorded["steps"][0] == {"id": "bare", "uses": "noop"}
    assert Workflow.from_dict(recorded) == workflow
