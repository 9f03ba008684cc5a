"""The Workspace screen: the repos with branch, commit, dirty count, ahead/behind and lock
drift, from the status events (``r`` asks for a fresh status, whose events redraw it); an
assembly in progress shows what it did with each repo."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from nestr.tui.screens.base import LiveScreen
from nestr.tui.state import RepoRow
from nestr.tui.table import LiveTable

COLUMNS = ("repo", "branch", "commit", "dirty", "ahead", "behind", "lock", "assembly")


class WorkspaceScreen(LiveScreen):
    """The repos of the workspace, as the latest events describe them."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "refresh_status", "Refresh")]

    def body(self) -> ComposeResult:
        yield LiveTable(COLUMNS, id="repos")

    def redraw(self) -> None:
        repos = sorted(self.state.repos.values(), key=lambda r: r.name)
        self.query_one(LiveTable).show([(r.name, _cells(r)) for r in repos])

    def action_refresh_status(self) -> None:
        self.run_worker(self._status(), group="status", exclusive=True)

    async def _status(self) -> None:
        try:
            await asyncio.to_thread(self.live.source.status)
        except Exception as error:
            self.notify(f"status failed: {error}", severity="error")


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
