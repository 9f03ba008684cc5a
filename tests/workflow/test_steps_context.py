"""What the engine hands each step: the caller's settings and an emitter into the run's log."""

from __future__ import annotations

import asyncio

from nestr.config.settings import Settings
from nestr.store.eventlog import open_event_log
from nestr.workflow import resume_run
from nestr.workflow.protocols import Outputs, StepContext, StepFailed
from nestr.workflow.registry import StepRegistry


class Reporter:
    """Emits one event naming the jobs setting it was given; fails while `gate` is missing."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        ctx.emit("acme.report", {"jobs": ctx.settings.jobs})
        if ctx.with_.get("gated") and not (ctx.root / "gate").exists():
            raise StepFailed("gate is closed")
        return {"jobs": str(ctx.settings.jobs)}


WORKFLOW = """
wf:
  steps:
    - {id: first, uses: acme.report}
    - {id: second, needs: [first], uses: acme.report, with: {gated: true}}
"""


def test_run_and_resume_hand_steps_their_settings_and_log_what_they_emit(project) -> None:
    """`run_workflow` and `resume_run` give each step the settings they were called with, and
    what a step emits lands in the run's durable log with the run id and the step's key."""
    project.write(WORKFLOW)
    registry = StepRegistry(extra={"acme.report": Reporter})
    failed = project.run("wf", registry=registry, settings=Settings(jobs=3))
    assert failed.status == "failed"
    (project.root / "gate").touch()
    resumed = asyncio.run(
        resume_run(
            failed.run_id, state_dir=project.state_dir, registry=registry, settings=Settings(jobs=5)
        )
    )

    assert resumed.ok
    assert {s.key: dict(s.outputs) for s in resumed.steps} == {
        "first": {"jobs": "3"},
        "second": {"jobs": "5"},
    }
    log = open_event_log(project.state_dir)
    try:
        reports = [e for e in log.read(run_id=failed.run_id) if e.type == "acme.report"]
    finally:
        log.close()
    assert [(e.step, e.data["jobs"], e.run_id) for e in reports] == [
        ("first", 3, failed.run_id),
        ("second", 3, failed.run_id),
        ("second", 5, failed.run_id),
    ]
    assert all(e.seq is not None for e in reports)


def test_library_callers_get_default_settings(project) -> None:
    """A run started without settings gives its steps nestr's defaults."""
    project.write(WORKFLOW.replace(", with: {gated: true}", ""))
    result = project.run("wf", registry=StepRegistry(extra={"acme.report": Reporter}))
    assert result.ok
    assert {s.outputs["jobs"] for s in result.steps} == {str(Settings().jobs)}
