"""The executor seam: run and resume build their executor from an injected factory or from
the ``executor`` setting, and a second executor made of the shared pieces (the pure scheduler,
one-try execution, the store) drives a run and its resume."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from nestr.config.layers import LayerInputs
from nestr.config.loader import load_config
from nestr.config.settings import Settings
from nestr.errors import ConfigError
from nestr.events import Event
from nestr.manifest.loader import load_manifest
from nestr.store import open_database
from nestr.workflow import Executor, RunResult, RunSpec, resume_run, run_workflow
from nestr.workflow.attempt import Prepared, output_path, prepare, run_try, step_context
from nestr.workflow.capture import CapturedLog
from nestr.workflow.emitter import StepEmitter
from nestr.workflow.executor import EXECUTORS, ExecutorSetup
from nestr.workflow.process import GroupProcessRunner
from nestr.workflow.schedule import Schedule, Settle, Start
from nestr.workflow.scope import build_scope


class SequentialExecutor:
    """One instance at a time, no retries: the schedule decides, ``attempt`` runs each try,
    and the store's one-transaction writers record it."""

    def __init__(self, setup: ExecutorSetup, used: list[str]) -> None:
        self.setup = setup
        self.used = used
        self.schedule: Schedule | None = None

    def cancel(self) -> None:
        if self.schedule is not None:
            self.schedule.cancel()

    async def execute(self, spec: RunSpec) -> RunResult:
        store, clock = self.setup.store, self.setup.options.clock
        self.used.append(spec.run_id)
        self.schedule = schedule = Schedule.for_plan(spec.plan, done=spec.done, limit=1)
        outputs = {key: dict(record.outputs) for key, record in spec.done.items()}
        while not schedule.over:
            for action in schedule.advance():
                instance = spec.plan.instance(action.key)
                if isinstance(action, Settle):
                    event = Event("test.settled", step=action.key)
                    store.settle_steps(spec.run_id, [(action.key, action.status, action.reason)],
                                       clock(), [event])  # fmt: skip
                elif isinstance(action, Start):
                    scope = build_scope(
                        instance, spec.plan, run_id=spec.run_id, inputs=spec.inputs,
                        states=schedule.states, outputs=outputs, root=spec.root,
                    )  # fmt: skip
                    prepared = prepare(instance, scope, spec, self.setup.registry, os.environ)
                    assert isinstance(prepared, Prepared)
                    attempt = spec.prior_attempts.get(instance.key, 0) + 1
                    output = output_path(spec.state_dir, instance.key, spec.claim, attempt)
                    ctx = step_context(
                        spec, instance, prepared, attempt, output,
                        log=CapturedLog(), processes=GroupProcessRunner(),
                        emit=StepEmitter(self.setup.bus, spec.run_id, instance.key),
                    )  # fmt: skip
                    store.start_attempt(spec.run_id, instance.key, attempt, clock(), Event("t.s"))
                    end = await run_try(instance, ctx, prepared.factory, final=True)
                    store.finish_attempt(
                        spec.run_id, instance.key, attempt, end, clock(), Event("t.e")
                    )
                    outputs[instance.key] = dict(end.outputs or {})
                    assert end.step_status is not None
                    schedule.finished(instance.key, end.step_status)
        status = schedule.final_status()
        store.finish_run(spec.run_id, status, clock(), Event("test.run.finished"))
        steps = tuple(store.steps(spec.run_id))
        return RunResult(spec.run_id, spec.plan.workflow.name, status, steps, 0.0)


def _factory(used: list[str]) -> Any:
    def build(setup: ExecutorSetup) -> Executor:
        return SequentialExecutor(setup, used)

    return build


def test_run_and_resume_use_the_injected_executor(project: Any) -> None:
    """A run and its resume are driven by the executor the factory builds: its schedule
    skips the failed step's dependent, and the resume reruns only what did not succeed,
    with the outputs of what did."""
    project.write(
        """
        wf:
          steps:
            - {id: first, uses: noop, with: {outputs: {k: v}}}
            - {id: flaky, needs: [first], shell: true, run: "test -e ok"}
            - id: last
              needs: [flaky]
              uses: noop
              with: {outputs: {got: "${{ steps.first.outputs.k }}"}}
        """
    )
    used: list[str] = []
    manifest = load_manifest(project.manifest_path)
    failed = asyncio.run(
        run_workflow("wf", manifest=manifest, state_dir=project.state_dir, executor=_factory(used))
    )
    assert failed.status == "failed"
    assert {s.key: s.status for s in failed.steps} == {
        "first": "succeeded",
        "flaky": "failed",
        "last": "skipped",
    }
    (project.root / "ok").touch()
    resumed = asyncio.run(
        resume_run(failed.run_id, state_dir=project.state_dir, executor=_factory(used))
    )
    assert used == [failed.run_id, failed.run_id]
    assert resumed.ok
    after = {s.key: (s.status, s.attempts, dict(s.outputs)) for s in resumed.steps}
    assert after == {
        "first": ("succeeded", 1, {"k": "v"}),
        "flaky": ("succeeded", 2, {}),
        "last": ("succeeded", 1, {"got": "v"}),
    }
    with open_database(project.state_dir) as db:
        ends = db.query("SELECT count(*) FROM events WHERE type='t.e'")[0][0]
    assert ends == 4  # every try was recorded by the injected executor


def test_the_executor_setting_names_the_local_executor(project: Any) -> None:
    """``executor="local"`` (the setting's value) runs the workflow with the local executor."""
    project.write("wf:\n  steps:\n    - {id: a, uses: noop}")
    manifest = load_manifest(project.manifest_path)
    result = asyncio.run(
        run_workflow("wf", manifest=manifest, state_dir=project.state_dir, executor="local")
    )
    assert result.ok
    assert result.counts() == {"succeeded": 1}


def test_an_unknown_executor_in_the_config_is_refused_at_its_line(tmp_path: Path) -> None:
    """``executor: nomad`` in a config file is an error naming the file, line and column
    and the executors there are (local and temporal)."""
    (tmp_path / "nestr.config.yaml").write_text("jobs: 2\nexecutor: nomad\n", "utf-8")
    inputs = LayerInputs(cwd=tmp_path, environ={"HOME": str(tmp_path)}, system_dir=tmp_path / "e")
    with pytest.raises(ConfigError) as info:
        load_config(inputs)
    message = info.value.message
    assert message.startswith(f"{tmp_path / 'nestr.config.yaml'}:2:11: executor: ")
    assert "expected one of" in message
    assert "local" in message
    assert "temporal" in message


def test_the_executor_setting_defaults_to_local(tmp_path: Path) -> None:
    """Without the key, the setting is ``local``."""
    inputs = LayerInputs(cwd=tmp_path, environ={"HOME": str(tmp_path)}, system_dir=tmp_path / "e")
    assert load_config(inputs).settings.executor == "local"


def test_an_end_that_cannot_be_recorded_fails_its_step_and_the_run_goes_on(
    project: Any,
) -> None:
    """When the record of a step's end is refused by the database, the step is failed with
    the error, its dependent is skipped, an independent step still succeeds, and the run
    ends failed."""
    project.write(
        """
        wf:
          fail_fast: false
          steps:
            - {id: bad, uses: noop}
            - {id: after, needs: [bad], uses: noop}
            - {id: other, uses: noop}
        """
    )
    with open_database(project.state_dir) as db, db.transaction() as conn:
        conn.execute(
            "CREATE TRIGGER refuse AFTER UPDATE OF status ON steps"
            " WHEN NEW.key = 'bad' AND NEW.status = 'succeeded'"
            " BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
        )
    result = project.run("wf")
    assert result.status == "failed"
    by_key = {s.key: s for s in result.steps}
    assert by_key["bad"].status == "failed"
    assert "internal error" in (by_key["bad"].error or "")
    assert "refused by a trigger" in (by_key["bad"].error or "")
    assert (by_key["after"].status, by_key["other"].status) == ("skipped", "succeeded")


def test_the_executor_setting_chooses_the_executor(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``executor=``, a run is driven by the executor its settings name (here one
    registered for the test in the public ``EXECUTORS`` table)."""
    project.write("wf:\n  steps:\n    - {id: a, uses: noop}")
    used: list[str] = []
    monkeypatch.setitem(EXECUTORS, "sequential", _factory(used))
    settings = replace(Settings(), executor="sequential")  # type: ignore[arg-type]
    manifest = load_manifest(project.manifest_path)
    result = asyncio.run(
        run_workflow("wf", manifest=manifest, state_dir=project.state_dir, settings=settings)
    )
    assert result.ok
    assert used == [result.run_id]
