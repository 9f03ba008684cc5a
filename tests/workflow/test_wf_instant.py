"""Instant steps run inside the scheduler's turn, without a task each, and still behave as any
other step: one recorded try, outputs, logs, failures, retries and concurrency as before."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from nestr.events import Event
from nestr.store import RunStore, open_database
from nestr.store.eventlog import open_event_bus
from nestr.workflow import ExecutorOptions, StepContext, StepFailed, StepRegistry


class AwaitingStep:
    """Instant, but awaits before it finishes: cannot finish within the scheduler's turn."""

    instant: ClassVar[bool] = True

    async def run(self, ctx: StepContext) -> dict[str, str]:
        ctx.log.write("stdout", "before the await\n")
        await asyncio.sleep(0)
        return {"answer": "42"}


class FlakyStep:
    """Instant; fails its first try of each run and succeeds the next."""

    instant: ClassVar[bool] = True
    tries: ClassVar[list[int]] = []

    async def run(self, ctx: StepContext) -> None:
        self.tries.append(ctx.attempt)
        if ctx.attempt == 1:
            raise StepFailed("not yet")


class BrokenStep:
    """Instant and failing at once."""

    instant: ClassVar[bool] = True

    async def run(self, ctx: StepContext) -> None:
        raise StepFailed("broken on purpose")


def _registry() -> StepRegistry:
    return StepRegistry({"awaiting": AwaitingStep, "flaky": FlakyStep, "broken": BrokenStep})


def test_an_instant_step_that_awaits_runs_once_as_a_task(project: Any) -> None:
    """An instant step that awaits is run as a task instead: one attempt recorded, its outputs
    kept, and its log line published once (the abandoned first start leaves nothing)."""
    project.write(
        """
        wf:
          steps:
            - {id: slow, uses: awaiting}
            - id: after
              needs: [slow]
              uses: noop
              with: {outputs: {got: "${{ steps.slow.outputs.answer }}"}}
        """
    )
    bus = open_event_bus(project.state_dir)
    seen: list[Event] = []
    bus.add_listener(seen.append)
    result = project.run("wf", registry=_registry(), bus=bus)
    assert result.ok
    assert {s.key: (s.attempts, dict(s.outputs)) for s in result.steps} == {
        "slow": (1, {"answer": "42"}),
        "after": (1, {"got": "42"}),
    }
    logs = [e.data["text"] for e in seen if e.type == "nestr.workflow.step.log"]
    assert logs == ["before the await\n"]
    kinds = [e.type.rsplit(".", 1)[1] for e in seen if e.step == "slow"]
    assert sorted(kinds) == ["finished", "log", "started"]


def test_a_layer_of_instant_steps_starts_no_task_per_step(project: Any) -> None:
    """While the records of a layer of twenty noops are committed, no task runs per step: the
    tasks alive are the run's own few, not one per instance."""
    steps = "\n".join(f"    - {{id: n{i}, uses: noop}}" for i in range(20))
    project.write("wf:\n  steps:\n" + steps)
    bus = open_event_bus(project.state_dir)
    alive: list[int] = []

    def count(event: Event) -> None:
        if event.type == "nestr.workflow.step.finished":
            alive.append(len(asyncio.all_tasks()))

    bus.add_listener(count)
    result = project.run("wf", bus=bus)
    assert result.ok
    assert len(alive) == 20
    assert max(alive) < 5


def test_an_instant_step_with_retries_is_retried(project: Any) -> None:
    """An instant step type with a retry policy fails its first try and is tried again, each
    try recorded."""
    FlakyStep.tries.clear()
    project.write(
        """
        wf:
          steps:
            - {id: flaky, uses: flaky, retry: {attempts: 2, initial: 1s}}
        """
    )

    async def no_wait(seconds: float) -> None:
        return None

    result = project.run("wf", registry=_registry(), options=ExecutorOptions(sleep=no_wait))
    assert result.ok
    assert FlakyStep.tries == [1, 2]
    with open_database(project.state_dir) as db:
        attempts = RunStore(db).attempts(result.run_id)
    assert [(a.attempt, a.status) for a in attempts] == [(1, "failed"), (2, "succeeded")]


def test_a_failing_instant_step_fails_and_skips_its_dependents(project: Any) -> None:
    """An instant step that raises StepFailed is recorded failed with its message; what needs
    it is skipped and an independent noop still succeeds."""
    project.write(
        """
        wf:
          steps:
            - {id: bad, uses: broken}
            - {id: child, needs: [bad], uses: noop}
            - {id: other, uses: noop}
        """
    )
    result = project.run("wf", registry=_registry())
    assert result.status == "failed"
    by_key = {s.key: s for s in result.steps}
    assert (by_key["bad"].status, by_key["bad"].error) == ("failed", "broken on purpose")
    assert by_key["child"].status == "skipped"
    assert by_key["other"].status == "succeeded"
