"""The Runs and Run screens over real runs: a retry, a failure, a cancel."""

from __future__ import annotations

import asyncio

from tests.tui.helpers import Project

from nestr.tui.app import NestrApp
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
