"""The Workspace, Sync and Events screens over a real assembly, status and sync with a
conflict (the sample product), and the raw stream's filters and pause key."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from tests.tui.helpers import Project
from textual.widgets import Log

from nestr.cli.main import main
from nestr.config.settings import Settings
from nestr.demo.product import build_sample_product
from nestr.session import Session
from nestr.tui.app import NestrApp
from nestr.tui.screens.events import EventsScreen
from nestr.tui.source import LocalSource
from nestr.tui.table import LiveTable


def rows(app: NestrApp) -> dict[str, list[str]]:
    table = app.screen.query_one(LiveTable)
    return {str(key.value): [str(c) for c in table.get_row(key)] for key in table.rows}


def conflicted_product(tmp_path: Path) -> Path:
    """The sample product assembled, its status taken, shared config adopted, then a local
    edit in billing that a changed source conflicts with (as `nestr demo` shows)."""
    product = build_sample_product(tmp_path / "sample")
    here = product.manifest.parent
    nestr = ["-C", str(here)]
    assert main([*nestr, "assemble"]) == 0
    (here / "api" / "scratch.txt").write_text("local\n")
    assert main([*nestr, "status"]) in (0, 1)
    assert main([*nestr, "sync", "apply", "--adopt", "--commit", "--message", "adopt"]) == 0
    billing = here / "billing" / "settings.cfg"
    billing.write_text(billing.read_text().replace("log_level = info", "log_level = debug"))
    manifest = product.manifest
    manifest.write_text(manifest.read_text().replace("log_level: info", "log_level: warning"))
    assert main([*nestr, "sync", "apply"]) == 3
    return here


def test_workspace_and_sync_screens_show_repos_and_the_conflict(tmp_path: Path) -> None:
    """After an assembly, a status and a sync that conflicts, the Workspace screen lists the
    repos with branch, dirty count and what the assembly did, and the Sync screen shows
    billing's conflict with the file it left untouched and, on `d`, its diff with markers."""
    here = conflicted_product(tmp_path)
    app = NestrApp(LocalSource(Session(Settings(), cwd=here)))

    async def scenario() -> tuple[dict[str, list[str]], dict[str, list[str]], str, str]:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.5)
            await pilot.press("2")
            await pilot.pause(0.3)
            repos = rows(app)
            await pilot.press("3")
            await pilot.pause(0.3)
            syncs = rows(app)
            table = app.screen.query_one(LiveTable)
            table.move_cursor(row=table.get_row_index("billing"))
            await pilot.pause(0.2)
            panel = app.screen.query_one("#conflicts", Log)
            conflicts = "\n".join(panel.lines)
            await pilot.press("d")
            for _ in range(100):  # planning runs git in a thread: wait for its answer
                await pilot.pause(0.1)
                if any(line.startswith("<<<<<<<") for line in panel.lines):
                    break
            return repos, syncs, conflicts, "\n".join(panel.lines)

    repos, syncs, conflicts, diff = asyncio.run(scenario())
    porcelain = subprocess.run(
        ["git", "status", "--porcelain"],
        cwd=here / "api",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert any("scratch.txt" in line for line in porcelain)
    assert repos["api"][3] == str(len(porcelain))
    assert repos["api"][1] != "-"
    assert repos["api"][7] != "-"  # the assembly's outcome for the repo
    assert syncs["billing"][3] == "1"
    assert "settings.cfg: 1 overlapping change" in conflicts
    assert "log_level = debug" in diff
    assert "<<<<<<<" in diff


def test_events_screen_filters_by_type_and_pauses(project: Project) -> None:
    """The Events screen shows the stream; a type filter keeps only matching events, and
    while paused nothing new is written."""
    assert project.nestr("run", "broken") == 1
    app = NestrApp(project.source())

    async def scenario() -> tuple[list[str], list[str], list[str]]:
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.pause(0.5)
            await pilot.press("4")
            await pilot.pause(0.3)
            assert isinstance(app.screen, EventsScreen)
            log = app.screen.query_one(Log)
            everything = list(log.lines)
            await pilot.press("t", *"nestr.workflow.run.", "enter")
            await pilot.pause(0.3)
            runs_only = list(log.lines)
            await pilot.press("p")
            assert await asyncio.to_thread(project.nestr, "run", "broken") == 1
            await pilot.pause(0.5)
            paused = list(log.lines)
            return everything, runs_only, paused

    everything, runs_only, paused = asyncio.run(scenario())
    assert any("nestr.workflow.step.finished" in line for line in everything)
    assert runs_only
    assert all("nestr.workflow.run." in line for line in runs_only)
    assert paused == runs_only


def test_workspace_screen_is_refreshed_by_workspace_events(tmp_path: Path) -> None:
    """With the Workspace screen open, a `nestr foreach` that adds a file in every repo
    publishes events; the screen asks for the status again and shows the new dirty count."""
    product = build_sample_product(tmp_path / "sample")
    here = product.manifest.parent
    assert main(["-C", str(here), "assemble"]) == 0
    app = NestrApp(LocalSource(Session(Settings(), cwd=here)))

    async def scenario() -> tuple[str, str]:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("2")
            await pilot.pause(0.5)
            before = rows(app)["worker"][3]
            touch = [sys.executable, "-m", "nestr", "-C", str(here), "foreach", "touch", "new.txt"]
            done = await asyncio.to_thread(subprocess.run, touch, capture_output=True, check=False)
            assert done.returncode == 0
            for _ in range(100):  # the events, then the status query they start
                await pilot.pause(0.1)
                if rows(app)["worker"][3] != before:
                    break
            return before, rows(app)["worker"][3]

    before, after = asyncio.run(scenario())
    assert (before, after) == ("0", "1")
