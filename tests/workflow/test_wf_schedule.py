"""The pure scheduler, driven with plain data: readiness, skips, fail-fast, continue_on_error,
cancellation, the concurrency limit, resume and the run's final status."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

import pytest

from nestr.workflow.schedule import (
    CANCEL_REASON,
    FAIL_FAST_REASON,
    Action,
    Interrupt,
    Node,
    Outcome,
    Schedule,
    Settle,
    Start,
)


def _nodes(table: Mapping[str, str]) -> list[Node]:
    """``{"b": "a c", "x": "a?"}``: b needs a and c; a trailing ``!`` on a key marks
    continue_on_error."""
    return [
        Node(key.rstrip("!"), tuple(needs.split()), continue_on_error=key.endswith("!"))
        for key, needs in table.items()
    ]


def _drive(schedule: Schedule, outcomes: Mapping[str, Outcome]) -> list[list[str]]:
    """Rounds of decisions, as text: every instance started in a round ends before the next,
    with its outcome from ``outcomes`` (default succeeded)."""
    rounds = []
    while not schedule.over:
        actions = schedule.advance()
        rounds.append([_text(action) for action in actions])
        for action in actions:
            if isinstance(action, Start):
                schedule.finished(action.key, outcomes.get(action.key, "succeeded"))
    return rounds


def _text(action: Action) -> str:
    if isinstance(action, Start):
        return f"start {action.key}"
    if isinstance(action, Settle):
        return f"{action.status} {action.key}: {action.reason}"
    return f"interrupt {action.key}: {action.reason}"


CASES = {
    "fan-out and join": (
        {"a": "", "b1": "a", "b2": "a", "c": "b1 b2"},
        {},
        True,
        [["start a"], ["start b1", "start b2"], ["start c"]],
        "succeeded",
    ),
    "a failed need skips its dependents, transitively; others go on without fail_fast": (
        {"a": "", "b": "a", "c": "b", "x": ""},
        {"a": "failed"},
        False,
        [["start a", "start x"], ["skipped b: needs a failed", "skipped c: needs b skipped"]],
        "failed",
    ),
    "continue_on_error: the failure passes and does not fail the run": (
        {"a!": "", "b": "a"},
        {"a": "failed"},
        True,
        [["start a"], ["start b"]],
        "succeeded",
    ),
    "an instance skipped by its condition skips its dependents; the run succeeds": (
        {"a": "", "b": "a", "c": ""},
        {"a": "skipped"},
        True,
        [["start a", "start c"], ["skipped b: needs a skipped"]],
        "succeeded",
    ),
    "fail_fast interrupts what runs and cancels what has not started": (
        {"a": "", "b": "", "c": "b", "d": "c"},
        {"a": "failed"},
        True,
        [
            ["start a", "start b"],
            [
                f"interrupt b: {FAIL_FAST_REASON}",
                f"cancelled c: {FAIL_FAST_REASON}",
                f"cancelled d: {FAIL_FAST_REASON}",
            ],
        ],
        "failed",
    ),
}


@pytest.mark.parametrize(
    ("table", "outcomes", "fail_fast", "rounds", "status"), CASES.values(), ids=CASES
)
def test_decisions_follow_the_table(
    table: dict[str, str],
    outcomes: dict[str, Outcome],
    fail_fast: bool,
    rounds: list[list[str]],
    status: str,
) -> None:
    """Each table's run starts, skips and cancels exactly the instances listed, round by
    round, and ends with the status given."""
    schedule = Schedule(_nodes(table), limit=8, fail_fast=fail_fast)
    assert _drive(schedule, outcomes) == rounds
    assert schedule.final_status() == status


def test_the_limit_caps_running_instances_and_keeps_ready_order() -> None:
    """With limit 2, five independent instances start two at a time, in definition order,
    each as soon as a slot frees."""
    schedule = Schedule(_nodes(dict.fromkeys("abcde", "")), limit=2)
    assert schedule.advance() == [Start("a"), Start("b")]
    assert schedule.advance() == []  # no slot free
    schedule.finished("b", "succeeded")
    assert schedule.advance() == [Start("c")]
    schedule.finished("a", "succeeded")
    schedule.finished("c", "succeeded")
    assert schedule.advance() == [Start("d"), Start("e")]


def test_a_skip_needs_no_free_slot() -> None:
    """An instance whose need failed is skipped at once, even while every slot is taken."""
    schedule = Schedule(_nodes({"a": "", "b": "", "c": "a"}), limit=1, fail_fast=False)
    assert schedule.advance() == [Start("a")]
    schedule.finished("a", "failed")
    assert schedule.advance() == [Settle("c", "skipped", "needs a failed"), Start("b")]


def test_cancel_interrupts_running_and_cancels_pending() -> None:
    """A cancel mid-run interrupts what runs and cancels what never started; the instances
    interrupted report cancelled and the run ends cancelled."""
    schedule = Schedule(_nodes({"a": "", "b": "", "c": "a", "d": "c"}), limit=8)
    assert schedule.advance() == [Start("a"), Start("b")]
    schedule.finished("b", "succeeded")
    schedule.cancel()
    assert not schedule.over
    assert schedule.advance() == [
        Interrupt("a", CANCEL_REASON),
        Settle("c", "cancelled", CANCEL_REASON),
        Settle("d", "cancelled", CANCEL_REASON),
    ]
    schedule.cancel()  # a second cancel changes nothing
    assert schedule.advance() == []
    schedule.finished("a", "cancelled")
    assert schedule.over
    assert schedule.final_status() == "cancelled"
    assert dict(schedule.states) == {
        "a": "cancelled",
        "b": "succeeded",
        "c": "cancelled",
        "d": "cancelled",
    }


def test_fail_fast_interrupts_running_instances() -> None:
    """With fail_fast, a failure interrupts the other running instances with the fail-fast
    reason; a continue_on_error failure does not."""
    schedule = Schedule(_nodes({"a!": "", "b": "", "c": ""}), limit=8)
    assert schedule.advance() == [Start("a"), Start("b"), Start("c")]
    schedule.finished("a", "failed")
    assert schedule.advance() == []
    schedule.finished("b", "failed")
    assert schedule.advance() == [Interrupt("c", FAIL_FAST_REASON)]
    schedule.finished("c", "cancelled")
    assert schedule.over
    assert schedule.final_status() == "failed"


def test_a_resume_starts_only_what_did_not_succeed() -> None:
    """Instances done before are never started again; their dependents are ready at once."""
    schedule = Schedule(_nodes({"a": "", "b": "a", "c": "b"}), done={"a"}, limit=8)
    assert _drive(schedule, {}) == [["start b"], ["start c"]]
    assert schedule.final_status() == "succeeded"


def test_nothing_to_do_is_over_at_once() -> None:
    """A run whose instances all succeeded before is over before any decision, succeeded."""
    schedule = Schedule(_nodes({"a": "", "b": "a"}), done={"a", "b"})
    assert schedule.over
    assert schedule.advance() == []
    assert schedule.final_status() == "succeeded"


def test_the_same_run_gives_the_same_actions_in_any_process() -> None:
    """Two interpreters with different hash seeds drive the same fan-out to the same actions in
    the same order (a Temporal replay depends on it)."""
    script = (
        "from nestr.workflow.schedule import Node, Schedule\n"
        "nodes = [Node(f'n{i}') for i in range(30)]\n"
        "nodes.append(Node('join', tuple(f'n{i}' for i in range(30))))\n"
        "nodes += [Node(f'm{i}', ('join', *(f'n{j}' for j in range(i)))) for i in range(30)]\n"
        "s = Schedule(nodes, limit=4)\n"
        "out = []\n"
        "while not s.over:\n"
        "    for a in s.advance():\n"
        "        out.append(a.key)\n"
        "        s.finished(a.key, 'succeeded')\n"
        "print(' '.join(out))\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    ]
    assert runs[0] == runs[1] == runs[2]
    assert runs[0].split()[:4] == ["n0", "n1", "n2", "n3"]
