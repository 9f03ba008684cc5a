"""Checks that span steps: ids, needs, cycles, step types and expression references.

Every problem is a :class:`WorkflowDefinitionError` at the ``file:line:col`` of the value that
is wrong; all of them are reported together, before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any

from nestr.errors import (
    MultipleInputErrors,
    NestrError,
    SourceLocation,
    WorkflowDefinitionError,
    did_you_mean,
)
from nestr.workflow import expressions
from nestr.workflow.graph import Ancestry, Edges, edges_of, find_cycles
from nestr.workflow.model import StepDef, Workflow
from nestr.workflow.registry import StepRegistry
from nestr.workflow.render import script_problem
from nestr.yamlsource import KeyPath, format_key_path

Locate = Callable[[KeyPath], SourceLocation]


def validate_workflow(
    workflow: Workflow,
    locate: Locate,
    step_types: Collection[str],
    *,
    field_prefix: KeyPath = (),
) -> None:
    """Raise every problem of ``workflow`` at once; return quietly when it can run."""
    errors = check_workflow(workflow, locate, step_types, field_prefix=field_prefix)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultipleInputErrors(errors)


def check_workflow(
    workflow: Workflow,
    locate: Locate,
    step_types: Collection[str],
    *,
    field_prefix: KeyPath = (),
    outlines: Collection[int] = (),
    inputs_known: bool = True,
    ancestry: Callable[[Edges], Ancestry] = Ancestry,
) -> list[WorkflowDefinitionError]:
    """Every problem that spans steps, in the order found.

    ``outlines``: indexes of steps whose own fields are bad (already reported); only their id
    and needs take part (duplicates, needs, cycles). ``inputs_known`` is False when the inputs
    section is bad, so references to inputs cannot be judged. ``ancestry`` builds the walker of
    the steps' ancestors (one per check; its ``visits`` show how much walking a check did).
    """
    found = _problems(workflow, locate, step_types, set(outlines), inputs_known, ancestry)
    return [_prefixed(e, field_prefix) for e in found]


def _prefixed(error: WorkflowDefinitionError, prefix: KeyPath) -> WorkflowDefinitionError:
    if not prefix or error.field is None:
        return error
    return WorkflowDefinitionError(
        error.detail,
        location=error.location,
        field=f"{format_key_path(prefix)}.{error.field}",
        hint=error.hint,
    )


def _error(locate: Locate, path: KeyPath, message: str, hint: str | None = None) -> Any:
    return WorkflowDefinitionError(
        message, location=locate(path), field=format_key_path(path), hint=hint
    )


def _problems(
    workflow: Workflow,
    locate: Locate,
    step_types: Collection[str],
    outlines: set[int],
    inputs_known: bool,
    ancestry: Callable[[Edges], Ancestry],
) -> Iterator[WorkflowDefinitionError]:
    seen: set[str] = set()
    for index, step in enumerate(workflow.steps):
        if step.id in seen:
            yield _error(locate, ("steps", index, "id"), f"duplicate step id {step.id!r}")
        seen.add(step.id)
    ids = [s.id for s in workflow.steps]
    suggest = _Suggestions(ids)
    for index, step in enumerate(workflow.steps):
        yield from _check_needs(step, index, suggest, seen, locate)
        if index in outlines:
            continue
        for body, base in _bodies(step, index):
            yield from _check_type(body, base, step_types, locate)
    edges = edges_of(workflow)
    yield from _check_cycles(workflow, edges, locate)
    inputs = {i.name for i in workflow.inputs} if inputs_known else None
    # Ancestors are walked only for a step that reads a step it does not need directly; in a
    # cyclic graph "upstream" still means "reachable through needs", so the check stays sound.
    upstream = ancestry(edges)
    for index, step in enumerate(workflow.steps):
        if index in outlines:
            continue
        for body, base in _bodies(step, index):
            for path, text in _templated(body, base):
                yield from _check_text(text, path, body, upstream, inputs, locate)
            if (problem := script_problem(body)) is not None:
                field, error = problem
                yield _error(locate, (*base, *field), error.message, error.hint)


def _check_type(
    body: StepDef, base: KeyPath, step_types: Collection[str], locate: Locate
) -> Iterator[WorkflowDefinitionError]:
    """An unknown step type, or the problems of a known one's ``with:``."""
    if body.is_command:
        return
    try:  # a plugin's step type: asking may start the plugin, which may fail
        if body.uses in step_types:
            yield from _check_with(body, base, step_types, locate)
            return
    except NestrError as exc:
        yield _error(locate, (*base, "uses"), exc.message, exc.hint)
        return
    hint = did_you_mean(body.uses, sorted(step_types)) or "see `nestr workflow list`"
    yield _error(locate, (*base, "uses"), f"unknown step type {body.uses!r}", hint)


def _check_with(
    body: StepDef, base: KeyPath, step_types: Collection[str], locate: Locate
) -> Iterator[WorkflowDefinitionError]:
    """The problems a plugin finds in the step's ``with:``, each at its field's position."""
    if not isinstance(step_types, StepRegistry):
        return
    for path, message in step_types.check(body.uses, body.with_):
        field = _deepest_known(body.with_, path)
        yield _error(locate, (*base, "with", *field), f"{body.uses}: {message}")


def _deepest_known(with_: Any, path: tuple[str, ...]) -> KeyPath:
    """The longest prefix of ``path`` present in ``with_`` (a missing field is reported at its
    parent), list indexes as numbers, as the YAML locator wants them."""
    found: list[str | int] = []
    node = with_
    for part in path:
        if isinstance(node, dict) and part in node:
            found.append(part)
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            found.append(int(part))
            node = node[int(part)]
        else:
            break
    return tuple(found)


def _check_cycles(
    workflow: Workflow, edges: dict[str, tuple[str, ...]], locate: Locate
) -> Iterator[WorkflowDefinitionError]:
    """Each distinct cycle once, at the need of its first step that leads around it."""
    for cycle in find_cycles(edges):
        first, then = cycle[0], cycle[1]
        index, step = next(
            (i, s) for i, s in enumerate(workflow.steps) if s.id == first and then in s.needs
        )
        yield _error(
            locate,
            ("steps", index, "needs", step.needs.index(then)),
            "dependency cycle: " + " → ".join(cycle),
            "remove one of the needs along this loop",
        )


class _Suggestions:
    """Did-you-mean hints for unknown step ids, for the first few only: each costs a look at
    every id, so a generated workflow with thousands of typos would take minutes otherwise."""

    LIMIT = 20

    def __init__(self, ids: list[str]) -> None:
        self.ids, self.left = ids, self.LIMIT

    def __call__(self, word: str) -> str | None:
        if self.left <= 0:
            return None
        self.left -= 1
        return did_you_mean(word, self.ids)


def _check_needs(
    step: StepDef, index: int, suggest: _Suggestions, known: set[str], locate: Locate
) -> Iterator[WorkflowDefinitionError]:
    for position, need in enumerate(step.needs):
        if need not in known:
            hint = suggest(need) or "needs lists ids of other steps in this workflow"
            path = ("steps", index, "needs", position)
            yield _error(locate, path, f"unknown step {need!r} in needs", hint)
        elif need == step.id:
            yield _error(locate, ("steps", index, "needs", position), "a step cannot need itself")


def _bodies(step: StepDef, index: int) -> Iterator[tuple[StepDef, KeyPath]]:
    """The step at ``index`` and, if it declares one, its compensation (as the step that
    runs it, ``nestr.workflow.saga.compensation_step``), each with its key path."""
    from nestr.workflow.saga import compensation_step

    yield step, ("steps", index)
    if step.compensate is not None:
        yield compensation_step(step), ("steps", index, "compensate")


def _templated(step: StepDef, base: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Every user-written string of ``step`` that may hold expressions, with its key path."""
    if step.condition is not None:
        for expr in expressions.condition_expressions(step.condition):
            yield (*base, "if"), "${{ " + expr + " }}"
    if step.is_command:
        yield (*base, "run"), str(step.with_["command"])
    else:
        yield from _strings(step.with_, (*base, "with"))
    if step.cwd:
        yield (*base, "cwd"), step.cwd
    for key, value in step.env.items():
        yield (*base, "env", key), value


def _strings(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _strings(item, (*path, position))


def _check_text(
    text: str,
    path: KeyPath,
    step: StepDef,
    upstream: Ancestry,
    inputs: set[str] | None,
    locate: Locate,
) -> Iterator[WorkflowDefinitionError]:
    for expr in expressions.find_expressions(text):
        try:
            refs = expressions.references(expr)
        except expressions.ExpressionError as exc:
            yield _error(locate, path, str(exc))
            continue
        for root, name in sorted(refs, key=lambda r: (r[0], r[1] or "")):
            problem = _bad_reference(
                root, name, step, upstream, inputs, path[2:3] == ("compensate",)
            )
            if problem:
                yield _error(locate, path, f"in `{expr}`: {problem[0]}", problem[1])


def _bad_reference(
    root: str,
    name: str | None,
    step: StepDef,
    upstream: Ancestry,
    inputs: set[str] | None,
    undoes: bool,
) -> tuple[str, str | None] | None:
    if root not in expressions.ROOTS:
        choices = sorted(expressions.ROOTS)
        return f"unknown name {root!r}", did_you_mean(root, choices) or (
            "expressions can use " + ", ".join(choices)
        )
    if root == "inputs" and inputs is not None and name is not None and name not in inputs:
        return f"unknown input {name!r}", did_you_mean(name, sorted(inputs)) or (
            "declare it under inputs:"
        )
    if root == "steps" and name is not None and name not in upstream.edges:
        return f"unknown step {name!r}", did_you_mean(name, sorted(upstream.edges))
    # a compensation reads the outputs of the step it undoes (``step.id``) too
    itself = undoes and name == step.id
    if (
        root == "steps"
        and name is not None
        and not itself
        and not upstream.is_upstream(name, step.id)
    ):
        return (
            f"step {name!r} is not upstream of {step.id!r}",
            f"add {name!r} to the needs of {step.id!r} (directly or through another step)",
        )
    if root == "repo" and step.foreach is None:
        return "`repo` is only defined in foreach steps", "add foreach: to the step"
    return None
