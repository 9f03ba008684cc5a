"""Pure pieces: durations, expressions, graph algorithms, the outputs file format."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nestr.workflow import expressions
from nestr.workflow.durations import format_duration, parse_duration
from nestr.workflow.graph import find_cycle, topological_order
from nestr.workflow.model import StepDef
from nestr.workflow.outputs import parse_outputs
from nestr.workflow.protocols import StepFailed
from nestr.workflow.render import reads_scope, split_command


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10m", 600),
        ("1s", 1),
        ("1h30m", 5400),
        ("250ms", 0.25),
        ("1.5s", 1.5),
        (7, 7),
        ("2d", 172800),
        ("1w", 604800),
    ],
)
def test_durations_parse(text: object, seconds: float) -> None:
    """Durations with units (and plain numbers of seconds) become seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "10 minutes", "m10", "1h30", "-1s", True, [1]])
def test_bad_durations_are_refused(text: object) -> None:
    """Text that is not number+unit pairs is a ValueError naming the expected form."""
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "value",
    [10**400, float("inf"), float("nan"), 1e300, "1" + "0" * 400 + "s", "366d", -(10**400)],
    ids=["int-400-digits", "inf", "nan", "1e300", "text-400-digits", "366d", "negative-huge"],
)
def test_huge_and_infinite_durations_are_refused(value: object) -> None:
    """A duration over a year, infinite, NaN or too big for a float is a ValueError, no crash."""
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(value)


@given(st.integers(min_value=0, max_value=10**6))
def test_duration_of_formatted_seconds_round_trips(seconds: int) -> None:
    """Whole seconds of 60 or more format to a duration that parses back close to them."""
    text = format_duration(seconds)
    assert abs(parse_duration(text) - seconds) <= (60 if seconds >= 3600 else 0.05)


def test_expressions_render_and_keep_native_types() -> None:
    """A lone expression keeps its type; mixed text renders booleans as true/false."""
    scope = {"inputs": {"n": 2, "flag": True}, "steps": {}}
    assert expressions.render_value("${{ inputs.n * 3 }}", scope) == 6
    assert expressions.render("n=${{ inputs.n }} ${{ inputs.flag }}", scope) == "n=2 true"
    assert expressions.render_value({"a": ["${{ inputs.n }}"]}, scope) == {"a": [2]}


def test_undefined_names_are_errors_not_empty_strings() -> None:
    """StrictUndefined: a missing key raises instead of rendering nothing."""
    with pytest.raises(expressions.ExpressionError, match="missing"):
        expressions.render("${{ inputs.missing }}", {"inputs": {}})


def test_sandbox_refuses_unsafe_attribute_access() -> None:
    """The sandbox blocks reaching Python internals from an expression."""
    with pytest.raises(expressions.ExpressionError):
        expressions.evaluate("inputs.__class__.__mro__", {"inputs": {}})


def test_references_find_steps_and_inputs() -> None:
    """references() names each root and the step/input read after it."""
    refs = expressions.references("steps.build.outputs.v ~ inputs['x'] ~ repo.name ~ steps")
    assert refs >= {("steps", "build"), ("inputs", "x"), ("repo", "name"), ("steps", None)}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("true", True),
        ("inputs.n > 1", True),
        ("${{ inputs.n > 5 }}", False),
        ("${{ 'false' }}", False),
    ],
)
def test_conditions(condition: str, expected: bool) -> None:
    """Bare conditions and ${{ }} conditions evaluate GitHub-style."""
    assert expressions.condition_holds(condition, {"inputs": {"n": 2}}) is expected


def test_split_command_renders_each_argv_element_after_splitting() -> None:
    """Expressions with spaces inside stay one element; quotes around them are honoured."""
    scope = {"inputs": {"v": "a b; c"}}
    argv = split_command('tool --v ${{ inputs.v }} "x ${{ inputs.v }}"', scope)
    assert argv == ["tool", "--v", "a b; c", "x a b; c"]


def test_find_cycle_and_order() -> None:
    """A cycle is returned as a closed path; an acyclic graph is ordered needs-first."""
    assert find_cycle({"a": ["c"], "b": ["a"], "c": ["b"]}) == ["a", "c", "b", "a"]
    assert find_cycle({"a": [], "b": ["a"]}) is None
    assert topological_order({"c": ["a", "b"], "a": [], "b": ["a"]}) == ["a", "b", "c"]


def test_outputs_file_format() -> None:
    """key=value lines and key<<DELIM blocks parse; a malformed line fails the step."""
    assert parse_outputs("a=1\nb=x=y\n\nc<<END\nl1\nl2\nEND\n") == {
        "a": "1",
        "b": "x=y",
        "c": "l1\nl2",
    }
    with pytest.raises(StepFailed, match="expected key=value"):
        parse_outputs("oops\n")
    with pytest.raises(StepFailed, match="never ends"):
        parse_outputs("c<<END\nl1\n")
    with pytest.raises(StepFailed, match="not a valid output name"):
        parse_outputs("bad key=1\n")


@pytest.mark.parametrize(
    ("step", "reads"),
    [
        (StepDef("a", "noop"), False),
        (StepDef("a", "shell", with_={"command": "echo hi", "shell": True}), False),
        (StepDef("a", "noop", with_={"outputs": {"k": ["x", 1, "${{ inputs.v }}"]}}), True),
        (StepDef("a", "shell", with_={"command": "echo ${{ run.id }}"}), True),
        (StepDef("a", "noop", env={"K": "${{ inputs.v }}"}), True),
        (StepDef("a", "noop", cwd="${{ inputs.dir }}"), True),
        (StepDef("a", "noop", condition="inputs.go"), True),
    ],
)
def test_a_step_reads_its_scope_only_when_it_has_an_expression(step: StepDef, reads: bool) -> None:
    """A condition, or an expression anywhere in with (however deep), env or cwd, makes the
    step read its scope; a step with none never does, so its scope need not be built."""
    assert reads_scope(step) is reads
