"""`compensate:` in a definition: validated like a step's body with located errors, and the
pure decisions of ``nestr.workflow.saga`` (which compensations, in which order)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from nestr.workflow.model import Compensation, StepDef, Workflow
from nestr.workflow.plan import build_plan
from nestr.workflow.saga import compensations, outcome

BAD = """
version: 1
repos: []
workflows:
  wf:
    steps:
      - id: a
        run: echo a
        compensate: {run: echo, uses: noop}
      - id: b
        run: echo b
        compensate: {uses: git.tagg}
      - id: c
        needs: [b]
        run: echo c
        compensate:
          run: echo ${{ steps.d.outputs.x }} ${{ steps.c.outputs.y }} ${{ steps.b.outputs.z }}
      - id: d
        needs: [c]
        run: echo ${{ steps.d.outputs.x }}
        compensate: {shell: true, run: "echo '${{ inputs.v }}'"}
      - id: e
        run: echo e
        compensate: {run: echo e, colour: red}
"""


def test_compensate_errors_are_located_like_the_steps(nestr, cwd: Path) -> None:
    """Validation reports, at file:line:col under `compensate`, a body with both `run` and
    `uses`, an unknown step type, an unknown key, a read of a step downstream and a value in
    single quotes of a shell script; it accepts a
    compensation reading its own step and the steps upstream, while a step reading itself is
    still refused."""
    path = cwd / "nestr.yaml"
    path.write_text(textwrap.dedent(BAD).lstrip())
    result = nestr("workflow", "validate", "-m", str(path))
    assert result.code == 2
    expected = [
        "nestr.yaml:8:21: workflows.wf.steps[0].compensate: a step needs exactly one of `run`",
        "nestr.yaml:11:28: workflows.wf.steps[1].compensate.uses: unknown step type 'git.tagg'",
        "nestr.yaml:16:16: workflows.wf.steps[2].compensate.run: in `steps.d.outputs.x`: step"
        " 'd' is not upstream of 'c'",
        "nestr.yaml:19:14: workflows.wf.steps[3].run: in `steps.d.outputs.x`: step 'd' is not"
        " upstream of 'd'",
        "nestr.yaml:20:40: workflows.wf.steps[3].compensate.run: `${{ inputs.v }}` is inside"
        " single quotes",
        "nestr.yaml:23:43: workflows.wf.steps[4].compensate.colour: unknown key",
    ]
    for line in expected:
        assert line in result.err
    assert "steps.c.outputs" not in result.err
    assert "steps.b.outputs" not in result.err
    assert "7 problems found" in result.err  # the six above and the unknown input


def _step(step_id: str, *needs: str, undo: bool = True) -> StepDef:
    body = Compensation("noop") if undo else None
    return StepDef(step_id, "noop", needs=needs, compensate=body)


def test_saga_orders_compensations_against_the_needs() -> None:
    """Compensations exist only for succeeded steps that declare one; each needs the nearest
    compensated steps downstream (through a step without one), and the definition survives
    the run record's JSON."""
    workflow = Workflow(
        "wf",
        (
            _step("a"),
            _step("b", "a"),
            _step("plain", "b", undo=False),
            _step("c", "plain"),
            _step("d", "a"),
            _step("failed", "c"),
        ),
    )
    assert Workflow.from_dict(workflow.to_dict()) == workflow
    states = dict.fromkeys(["a", "b", "plain", "c", "d"], "succeeded") | {"failed": "failed"}
    saga = compensations(build_plan(workflow, {}), states)
    needs = {i.key: i.needs for i in saga.plan.instances}
    assert needs == {
        "compensate:d": (),
        "compensate:c": (),
        "compensate:b": ("compensate:c",),
        "compensate:a": ("compensate:b", "compensate:d"),
    }
    schedule = saga.schedule(limit=10)
    assert [a.key for a in schedule.advance()] == ["compensate:d", "compensate:c"]
    schedule.finished("compensate:c", "failed")  # a failed undo blocks nothing
    assert [a.key for a in schedule.advance()] == ["compensate:b"]
    schedule.finished("compensate:d", "succeeded")
    schedule.finished("compensate:b", "succeeded")
    assert [a.key for a in schedule.advance()] == ["compensate:a"]
    schedule.finished("compensate:a", "succeeded")
    assert schedule.over
    assert outcome(schedule.states) == "failed"
