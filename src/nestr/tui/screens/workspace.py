"""The Workspace screen: the repos with branch, commit, dirty count, ahead/behind and lock
drift from the status query, asked again when workspace or sync events arrive (at most once
a second) or on ``r``; an assembly in progress shows what it did with each repo."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from nestr.tui.screens.base import LiveScreen
from nestr.tui.state import RepoRow
from nestr.tui.table import LiveTable

EVERY = 1.0  # seconds at least between two status queries the events ask for
COLUMNS = (
    ("repo", 20),
    ("branch", 24),
    ("commit", 12),
    ("dirty", 5),
    ("ahead", 5),
    ("behind", 6),
    ("lock", 10),
    ("assembly", 10),
)


class WorkspaceScreen(LiveScreen):
    """The repos of the workspace, as the latest events describe them."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "refresh_status", "Refresh")]

    _asked = 0.0

    def body(self) -> ComposeResult:
        yield LiveTable(COLUMNS, id="repos")

    def on_mount(self) -> None:
        self.action_refresh_status()

    def redraw(self) -> None:
        repos = sorted(self.state.repos.values(), key=lambda r: r.name)
        self.query_one(LiveTable).show([(r.name, _cells(r)) for r in repos])
        if self.state.workspace_changed and time.monotonic() - self._asked > EVERY:
            self.action_refresh_status()

    def action_refresh_status(self) -> None:
        self.state.workspace_changed = False
        self._asked = time.monotonic()
        self.run_worker(self._status(), group="status", exclusive=True)

    async def _status(self) -> None:
        try:
            found = await asyncio.to_thread(self.live.source.status)
        except Exception as error:
            self.notify(f"status failed: {error}", severity="error")
            return
        for repo in found.repos:
            self.state.add_status(repo.name, dict(repo.to_dict()))
        self.redraw()


def _cells(repo: RepoRow) -> tuple[str, ...]:
    def number(value: int | None) -> str:
        return "-" if value is None else str(value)

    return (
        repo.name,
        repo.branch or "-",
        repo.commit or "-",
        str(repo.dirty),
        number(repo.ahead),
        number(repo.behind),
        repo.drift or "-",
        repo.assembly or "-",
    )
