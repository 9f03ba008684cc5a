"""The Runs and Run screens over real runs: a retry, a failure, a cancel."""

from __future__ import annotations

import asyncio

import pytest
from tests.tui.helpers import GUARD, Project
from textual.widgets import Log, Static

from nestr.tui.app import NestrApp
from nestr.tui.screens.run import RunScreen
from nestr.tui.screens.runs import RunsScreen
from nestr.tui.table import LiveTable


def cells(app: NestrApp) -> dict[str, list[str]]:
    """The rows the screen's table shows, by key."""
    table = app.screen.query_one(LiveTable)
    return {str(key.value): [str(c) for c in table.get_row(key)] for key in table.rows}


def test_runs_screen_lists_recorded_runs_with_status_and_progress(project: Project) -> None:
    """Runs that retried and failed are listed with workflow, status and n/m progress;
    wrong folding of the events or the history would show other values."""
    assert project.nestr("run", "flaky") == 0
    assert project.nestr("run", "broken") == 1
    app = NestrApp(project.source())

    async def scenario() -> dict[str, list[str]]:
        async with app.run_test(size=(140, 30)) as pilot:
            await pilot.pause(0.5)
            assert isinstance(app.screen, RunsScreen)
            return {r[1]: r for r in cells(app).values()}

    rows = asyncio.run(scenario())
    assert (rows["flaky"][2], rows["flaky"][5]) == ("succeeded", "2/2")
    assert (rows["broken"][2], rows["broken"][5]) == ("failed", "1/1")


def test_run_screen_shows_attempts_log_and_outputs_of_a_retried_step(project: Project) -> None:
    """Opening a run lists its steps by layer with attempt counts, and the selected step's
    log and outputs; a step that retried shows 2 attempts."""
    assert project.nestr("run", "flaky") == 0
    app = NestrApp(project.source())

    async def scenario() -> tuple[dict[str, list[str]], str, str]:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.5)
            await pilot.press("enter")
            await pilot.pause(0.5)
            assert isinstance(app.screen, RunScreen)
            await pilot.press("down")  # the second step: report
            await pilot.pause(0.3)
            log = "\n".join(app.screen.query_one(Log).lines)
            outputs = str(app.screen.query_one("#outputs", Static).render())
            return cells(app), log, outputs

    rows, log, outputs = asyncio.run(scenario())
    assert rows["attempt"][:5] == ["0", "attempt", "-", "succeeded", "2"]
    assert rows["report"][:5] == ["1", "report", "-", "succeeded", "1"]
    assert "reported" in log
    assert "count = 3" in outputs


def test_cancelling_a_live_run_from_the_keyboard_records_it_cancelled(project: Project) -> None:
    """`c` then `y` on a running run's screen cancels it: the run's own process ends it and
    records it cancelled, and the screen shows the status from the events."""
    proc = project.start("run", "slow")
    try:
        project.wait_for("slow", "running")
        app = NestrApp(project.source())

        async def scenario() -> str:
            async with app.run_test(size=(140, 40)) as pilot:
                await pilot.pause(0.5)
                await pilot.press("enter", "c", "y")
                project_done = asyncio.to_thread(project.wait_for, "slow", "cancelled")
                await asyncio.wait_for(project_done, 30)
                for _ in range(50):  # the finished event reaches the screen within a few frames
                    await pilot.pause(0.1)
                    if "cancelled" in str(app.screen.query_one("#title", Static).render()):
                        break
                return str(app.screen.query_one("#title", Static).render())

        title = asyncio.run(scenario())
        assert proc.wait(timeout=30) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert project.status_of("slow") == "cancelled"
    assert "slow · cancelled" in title


def test_failed_run_shows_its_error_and_exit(project: Project) -> None:
    """A failed step's row says failed, and its panel names the error the step ended with."""
    assert project.nestr("run", "broken") == 1
    app = NestrApp(project.source())

    async def scenario() -> tuple[dict[str, list[str]], str]:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.5)
            await pilot.press("enter")
            await pilot.pause(0.5)
            return cells(app), str(app.screen.query_one("#outputs", Static).render())

    rows, panel = asyncio.run(scenario())
    assert rows["boom"][3] == "failed"
    assert "exited 3" in panel


def test_runs_older_than_the_replayed_events_show_their_correlation_id(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no events replayed, a run listed from the store still shows the correlation id of
    the action that started it (read from its run.started event)."""
    assert project.nestr("run", "broken") == 1
    session = project.source().session
    started = session.events(type_prefix="nestr.workflow.run.started")[-1]
    monkeypatch.setattr("nestr.tui.app.REPLAY", 0)
    app = NestrApp(project.source())

    async def scenario() -> dict[str, list[str]]:
        async with app.run_test(size=(140, 30)) as pilot:
            await pilot.pause(0.5)
            return cells(app)

    row = asyncio.run(scenario())[str(started.run_id)]
    assert started.correlation_id
    assert row[6] == started.correlation_id[:12]


def test_resuming_a_failed_run_from_its_screen_reruns_it(project: Project) -> None:
    """`r` then `y` on a failed run starts a resume of its own: the screen reports it, the
    step that failed runs again (now it can pass) and the run ends succeeded."""
    assert project.nestr("run", "gated") == 1
    (project.root / "open").touch()
    app = NestrApp(project.source())

    async def scenario() -> tuple[str, str]:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.5)
            await pilot.press("enter")
            await pilot.pause(0.5)
            await pilot.press("r", "y")
            await asyncio.to_thread(project.wait_for, "gated", "succeeded")
            title = app.screen.query_one("#title", Static)
            for _ in range(100):  # the run's end reaches the screen within a few frames
                await pilot.pause(0.1)
                if "succeeded" in str(title.render()):
                    break
            return str(app.screen.query_one("#result", Static).render()), str(title.render())

    result, title = asyncio.run(scenario())
    assert result.startswith("resume started (pid ")
    assert "gated · succeeded" in title


def test_a_step_waiting_for_its_retry_counts_down(project: Project) -> None:
    """While a step waits out its retry backoff (4 s, no jitter) the Run screen shows the time
    left, and it goes down between redraws even though no event arrives."""
    proc = project.start("run", "patient")
    try:
        project.wait_for("patient", "running")
        app = NestrApp(project.source())

        async def scenario() -> list[float]:
            async with app.run_test(size=(140, 40)) as pilot:
                await pilot.pause(0.5)
                await pilot.press("enter")
                seen: list[float] = []
                for _ in range(int(GUARD / 0.1)):
                    await pilot.pause(0.1)
                    row = cells(app).get("again")
                    if row is not None and row[3] == "retrying":
                        seen.append(float(row[6].rstrip("s")))
                    if len(seen) >= 2 and seen[-1] < seen[0]:
                        break
                return seen

        seen = asyncio.run(scenario())
        assert proc.wait(timeout=GUARD) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert seen
    assert 0 < seen[0] <= 4.0
    assert seen[-1] < seen[0]


def test_runs_are_filtered_by_status_and_workflow(project: Project) -> None:
    """`s` cycles the status filter (all, running, failed, ...) and `/` keeps the workflows
    whose name contains the text given; the table shows only the runs that pass both."""
    assert project.nestr("run", "flaky") == 0
    assert project.nestr("run", "broken") == 1
    assert project.nestr("run", "gated") == 1
    app = NestrApp(project.source())

    def workflows() -> list[str]:
        return sorted(row[1] for row in cells(app).values())

    async def scenario() -> tuple[list[str], list[str], list[str]]:
        async with app.run_test(size=(140, 30)) as pilot:
            await pilot.pause(0.5)
            everything = workflows()
            await pilot.press("s", "s")  # all -> running -> failed
            failed = workflows()
            await pilot.press("slash", *"gat", "enter")
            await pilot.pause(0.1)
            return everything, failed, workflows()

    everything, failed, failed_gated = asyncio.run(scenario())
    assert everything == ["broken", "flaky", "gated"]
    assert failed == ["broken", "gated"]
    assert failed_gated == ["gated"]
