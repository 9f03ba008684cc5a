"""What can still be checked in a workflow definition whose fields failed type-checking.

pydantic stops at the first wrong field of a model, and a workflow with one mistyped step would
otherwise hide every missing ``needs`` target, cycle and bad expression behind that one error.
The outline keeps each step that type-checks on its own as a full :class:`StepDef`, and of each
step that does not, its id and needs (when they have the right types), at the same index: the
cross-step checks of :mod:`nestr.workflow.validate` then run as usual on what is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from nestr.workflow.model import InputDef, StepDef, Workflow

if TYPE_CHECKING:
    from nestr.workflow.loading import WorkflowSource
    from nestr.workflow.schema import DefaultsSection


_OUTLINE = "\0outline"  # the step type of an outline step: never a registered name


@dataclass(frozen=True)
class Outline:
    """A workflow built from the parts that type-check, and which parts did not."""

    workflow: Workflow
    outlines: frozenset[int]  # indexes of steps known only by id and needs
    inputs_known: bool


def outline(source: WorkflowSource, exc: ValidationError) -> Outline:
    """The outline of ``source.raw`` (a mapping) given the errors pydantic found in it."""
    raw: dict[Any, Any] = source.raw
    locs = [item["loc"] for item in exc.errors(include_url=False)]
    bad_keys = {loc[0] for loc in locs if loc}
    bad_steps = {loc[1] for loc in locs if len(loc) > 1 and loc[0] == "steps"}
    raw_steps = raw.get("steps")
    steps: list[StepDef] = []
    if isinstance(raw_steps, list):
        defaults = _defaults(None if "defaults" in bad_keys else raw.get("defaults"))
        for index, item in enumerate(raw_steps):
            step = None if index in bad_steps else _full_step(item, index, defaults, source)
            steps.append(step or _outline_step(item, index))
    inputs = None if "inputs" in bad_keys else _inputs(raw.get("inputs"))
    workflow = Workflow(
        name=str(raw.get("name") or source.name),
        inputs=inputs or (),
        steps=tuple(steps),
        source=source.path,
    )
    known = frozenset(i for i, s in enumerate(steps) if s.uses == _OUTLINE)
    return Outline(workflow, known, inputs is not None)


def _outline_step(raw: Any, index: int) -> StepDef:
    item = raw if isinstance(raw, dict) else {}
    step_id = item.get("id")
    needs = item.get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    if not (isinstance(needs, list) and all(isinstance(n, str) for n in needs)):
        needs = []  # its type error is reported; its entries cannot be judged
    return StepDef(
        id=step_id if isinstance(step_id, str) else f"<steps[{index}]>",
        uses=_OUTLINE,
        needs=tuple(needs),
    )


def _full_step(
    raw: Any, index: int, defaults: DefaultsSection | None, source: WorkflowSource
) -> StepDef | None:
    from nestr.workflow.loading import build_step
    from nestr.workflow.schema import StepSection

    try:
        section = StepSection.model_validate(raw)
    except ValidationError:
        return None
    retry, timeout = (defaults.retry, defaults.timeout) if defaults else (None, None)
    return build_step(section, index, retry, timeout, source)


def _defaults(raw: Any) -> DefaultsSection | None:
    from nestr.workflow.schema import DefaultsSection

    try:
        return DefaultsSection.model_validate(raw if raw is not None else {})
    except ValidationError:
        return None


def _inputs(raw: Any) -> tuple[InputDef, ...] | None:
    from nestr.workflow.schema import InputSection

    if raw is None:
        return ()
    try:
        items = {name: InputSection.model_validate(item) for name, item in raw.items()}
    except (ValidationError, AttributeError):
        return None
    return tuple(
        InputDef(str(name), item.type, item.default, item.description)
        for name, item in items.items()
    )
