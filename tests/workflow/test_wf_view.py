"""The run views: plain lines for pipes, and the live tree for terminals."""

from __future__ import annotations

from nestr.cli.commands._runview import LiveView, describe
from nestr.events import Event


def _events() -> list[Event]:
    return [
        Event("nestr.workflow.step.started", {"attempt": 1}, step="build", run_id="r"),
        Event(
            "nestr.workflow.step.finished", {"status": "succeeded", "seconds": 1.25}, step="build"
        ),
        Event("nestr.workflow.step.started", {"attempt": 2}, step="test[api]", run_id="r"),
        Event(
            "nestr.workflow.step.log",
            {"stream": "stdout", "text": "assert 1 == 2\n"},
            step="test[api]",
        ),
        Event(
            "nestr.workflow.step.finished",
            {"status": "failed", "seconds": 0.5, "error": "`pytest` exited 1"},
            step="test[api]",
        ),
    ]


def test_plain_lines_describe_each_step_event() -> None:
    """Each step event becomes one readable line; log events print nothing."""
    lines = [describe(e) for e in _events()]
    assert lines == [
        "▶ build (attempt 1)",
        "✓ build succeeded 1.25s",
        "▶ test[api] (attempt 2)",
        None,
        "✗ test[api] failed 0.50s: `pytest` exited 1",
    ]


def test_live_tree_shows_status_attempt_and_failing_tail() -> None:
    """The live tree lists each instance with status, duration, attempt and, for a failed
    one, the tail of its output."""
    from rich.console import Console

    view = LiveView("release")
    for event in _events():
        view(event)
    console = Console(record=True, width=100)
    console.print(view._render())
    text = console.export_text()
    assert "✓ build succeeded 1.2s" in text
    assert "✗ test[api] failed 0.5s (attempt 2)" in text
    assert "assert 1 == 2" in text


def test_live_tree_follows_the_dag_and_nests_foreach_instances() -> None:
    """With the workflow known, steps appear in run order with their needs, pending ones
    included, and foreach instances sit under their step."""
    from rich.console import Console

    from nestr.workflow.model import RepoSelector, StepDef, Workflow

    workflow = Workflow(
        name="release",
        steps=(
            StepDef(id="notify", uses="noop", needs=("test",)),
            StepDef(id="test", uses="noop", foreach=RepoSelector(groups=("backend",))),
        ),
    )
    view = LiveView("release", workflow)
    view(Event("nestr.workflow.step.started", {"attempt": 1}, step="test[api]"))
    console = Console(record=True, width=100)
    console.print(view._render())
    lines = console.export_text().splitlines()
    assert lines[1].startswith("├── test (foreach)")
    assert "▶ test[api] running" in lines[2]
    assert "· notify pending" in lines[3]
    assert "← test" in lines[3]
