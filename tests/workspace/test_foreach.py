"""nestr.workspace.foreach: a command per repo, its environment, events, failures and stopping."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from nestr.events import Event, EventBus
from nestr.workspace.foreach import ForeachCommand, ForeachReport, foreach

if TYPE_CHECKING:
    from conftest import HandmadeWorkspace


def run(
    hw: HandmadeWorkspace,
    *argv: str,
    shell: bool = False,
    jobs: int = 3,
    keep_going: bool = False,
) -> tuple[ForeachReport, list[Event]]:
    bus = EventBus()
    events: list[Event] = []
    bus.add_listener(events.append)
    report = asyncio.run(
        foreach(
            hw.workspace,
            hw.manifest.repos,
            ForeachCommand(argv, shell=shell),
            bus=bus,
            jobs=jobs,
            keep_going=keep_going,
        )
    )
    return report, events


def lines_of(events: list[Event], repo: str) -> list[str]:
    return [e.data["line"] for e in events if e.repo == repo and e.type.endswith(".output")]


def test_children_get_repo_environment_and_run_in_the_repo(
    handmade: Callable[..., HandmadeWorkspace],
) -> None:
    """Each child runs in its repo's directory with NESTR_REPO_* and NESTR_WORKSPACE set."""
    hw = handmade()
    names = "NESTR_REPO_NAME NESTR_REPO_PATH NESTR_REPO_REVISION NESTR_REPO_URL NESTR_WORKSPACE"
    report, events = run(hw, "sh", "-c", f"pwd; printenv {names}")
    assert report.ok
    for spec in hw.manifest.repos:
        assert lines_of(events, spec.name) == [
            str(hw.root / spec.path),
            spec.name,
            spec.path,
            "main",
            spec.url,
            str(hw.root),
        ]


def test_events_started_output_finished_in_order(
    handmade: Callable[..., HandmadeWorkspace],
) -> None:
    """Per repo the events come as started, its output lines, finished with the exit code."""
    hw = handmade()
    report, events = run(hw, "sh", "-c", "echo one; echo two >&2; exit 3", keep_going=True)
    api = [e for e in events if e.repo == "api"]
    assert [e.type.rsplit(".", 1)[1] for e in api] == ["started", "output", "output", "finished"]
    assert api[0].data["argv"] == ["sh", "-c", "echo one; echo two >&2; exit 3"]
    assert [e.data.get("line") for e in api[1:3]] == ["one", "two"]
    assert api[-1].data["returncode"] == 3
    assert [r.returncode for r in report.results] == [3, 3, 3]
    assert not report.ok


def test_no_shell_keeps_semicolons_literal(handmade: Callable[..., HandmadeWorkspace]) -> None:
    """Without shell a ';' is part of the argument; with shell it separates two commands."""
    hw = handmade()
    _, events = run(hw, "echo", "a;", "echo", "b")
    assert lines_of(events, "web") == ["a; echo b"]
    _, events = run(hw, "echo", "a;", "echo", "b", shell=True)  # noqa: S604 -- the point
    assert lines_of(events, "web") == ["a", "b"]


def test_missing_command_is_a_clear_error_per_repo(
    handmade: Callable[..., HandmadeWorkspace],
) -> None:
    """A command that does not exist fails in every repo with 'command not found' and 127."""
    hw = handmade()
    report, _ = run(hw, "nestr-no-such-command-x", keep_going=True)
    assert [(r.returncode, r.error) for r in report.results] == [
        (127, "command not found: nestr-no-such-command-x")
    ] * 3
    assert len(report.failed) == 3


def test_first_failure_stops_new_repos_unless_keep_going(
    handmade: Callable[..., HandmadeWorkspace],
) -> None:
    """Sequentially, a failure in api skips web and lib; with keep_going all three run."""
    hw = handmade()
    script = 'test "$NESTR_REPO_NAME" != api'
    report, events = run(hw, "sh", "-c", script, jobs=1)
    assert [(r.name, r.returncode, r.skipped) for r in report.results] == [
        ("api", 1, False),
        ("web", None, True),
        ("lib", None, True),
    ]
    assert not any(e.type.endswith(".started") and e.repo != "api" for e in events)
    report, _ = run(hw, "sh", "-c", script, jobs=1, keep_going=True)
    assert [r.returncode for r in report.results] == [1, 0, 0]


def test_running_repos_finish_after_a_failure(
    handmade: Callable[..., HandmadeWorkspace], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """In parallel, a repo already running when another fails still runs to its end, and no
    new repo starts after the failure."""
    hw = handmade()
    flag = tmp_path / "api-failed"
    # web waits until api's failure is reported (the flag is written by a listener of api's
    # `finished` event, which comes after the failure stopped new starts), then finishes
    # normally; lib, waiting for a slot (jobs=2), never starts.
    script = (
        'if [ "$NESTR_REPO_NAME" = api ]; then exit 4; fi; '
        f"i=0; while [ ! -e {flag} ] && [ $i -lt 3000 ]; do i=$((i+1)); sleep 0.01; done; "
        "echo finished"
    )
    bus = EventBus()
    events: list[Event] = []
    bus.add_listener(events.append)

    def on_finished(event: Event) -> None:
        if event.type.endswith(".finished") and event.repo == "api":
            flag.touch()

    bus.add_listener(on_finished)
    report = asyncio.run(
        foreach(
            hw.workspace, hw.manifest.repos, ForeachCommand(("sh", "-c", script)), bus=bus, jobs=2
        )
    )
    by_name = {r.name: r for r in report.results}
    assert by_name["api"].returncode == 4
    assert by_name["web"].returncode == 0
    assert lines_of(events, "web") == ["finished"]
    assert by_name["lib"].skipped


def test_missing_repo_fails_with_not_assembled(
    handmade: Callable[..., HandmadeWorkspace],
) -> None:
    """A repo that is not on disk fails with a 'not assembled' error; the others run."""
    hw = handmade(clone=["api", "lib"])
    report, _ = run(hw, "true", keep_going=True)
    web = next(r for r in report.results if r.name == "web")
    assert web.returncode is None
    assert web.error
    assert "not assembled" in web.error
    assert [r.ok for r in report.results] == [True, False, True]


def test_repo_reached_through_a_symlink_is_not_run(
    handmade: Callable[..., HandmadeWorkspace], tmp_path: Path
) -> None:
    """A repo path that is a symlink to a checkout outside the workspace runs nothing there."""
    hw = handmade(clone=["api", "lib"])
    outside = tmp_path / "outside-web"
    shutil.copytree(hw.workspace.root / "src" / "api", outside, symlinks=True)
    (hw.workspace.root / "src" / "web").symlink_to(outside)
    report, _ = run(hw, "touch", "ran-here", keep_going=True)
    web = next(r for r in report.results if r.name == "web")
    assert web.error is not None
    assert "is a symlink" in web.error
    assert not (outside / "ran-here").exists()
    assert (hw.workspace.root / "src" / "api" / "ran-here").exists()


def test_long_lines_and_missing_final_newline(
    handmade: Callable[..., HandmadeWorkspace],
) -> None:
    """A line longer than a pipe chunk arrives whole, and a last line without newline is kept."""
    hw = handmade()
    _, events = run(hw, "sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x; echo; printf tail")
    assert lines_of(events, "lib") == ["x" * 200000, "tail"]
