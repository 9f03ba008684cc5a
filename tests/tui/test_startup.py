"""`nestr ui` opens fast: up to its first rows it loads only what the Runs screen draws."""

from __future__ import annotations

import subprocess
import sys

from tests.tui.helpers import GUARD, Project

# loaded when first used: the other screens, their widgets, highlighting, the gRPC client
DEFERRED = (
    "nestr.tui.screens.events",
    "nestr.tui.screens.sync",
    "nestr.tui.screens.workspace",
    "nestr.tui.screens.run",
    "nestr.tui.screens.dialogs",
    "textual.widgets._log",
    "pygments",
    "grpc",
    "nestr.client",
)
FIRST_ROWS = """
import asyncio, sys
from pathlib import Path
from nestr.config.settings import Settings
from nestr.session import Session
from nestr.tui.app import NestrApp
from nestr.tui.source import LocalSource
from nestr.tui.table import LiveTable

async def main() -> None:
    app = NestrApp(LocalSource(Session(Settings(), cwd=Path(sys.argv[1]))))
    async with app.run_test(size=(140, 30)) as pilot:
        while not app.screen.query(LiveTable) or not app.screen.query_one(LiveTable).row_count:
            await pilot.pause(0.01)
        print("\\n".join(sorted(sys.modules)))

asyncio.run(main())
"""


def test_the_first_screen_loads_only_what_it_draws(project: Project) -> None:
    """In a fresh interpreter, by the time the Runs screen shows its first row, none of the
    other screens, the log widget, syntax highlighting or the gRPC client was imported."""
    assert project.nestr("run", "broken") == 1
    argv = [sys.executable, "-c", FIRST_ROWS, str(project.root)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=GUARD)
    loaded = done.stdout.split()
    assert "nestr.tui.screens.runs" in loaded
    early = [m for m in loaded if any(m == d or m.startswith(f"{d}.") for d in DEFERRED)]
    assert early == []
