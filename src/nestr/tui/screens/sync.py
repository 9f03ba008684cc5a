"""The Sync screen: the last sync of each repo (written, merged, conflicts, skipped), and for
the selected repo the files it left in conflict with what the merge reported; ``d`` shows
their diff (planned afresh, with conflict markers)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Log

from nestr.tui.screens.base import LiveScreen
from nestr.tui.state import SyncRow
from nestr.tui.table import LiveTable

COLUMNS = (
    ("repo", 20),
    ("written", 7),
    ("merged", 6),
    ("conflicts", 9),
    ("skipped", 7),
    ("error", 40),
)


class SyncScreen(LiveScreen):
    """Syncs per repo, from the sync events."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("d", "diff", "Diff of conflicts")]
    DEFAULT_CSS = """
    SyncScreen #syncs { height: 1fr; }
    SyncScreen #conflicts { height: 1fr; border: round $warning; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: list[str] = []
        self._diffed: str | None = None  # the repo whose diff the panel shows, till moved off

    def body(self) -> ComposeResult:
        yield LiveTable(COLUMNS, id="syncs")
        yield Log(id="conflicts")

    def redraw(self) -> None:
        rows = sorted(self.state.syncs.values(), key=lambda r: r.repo)
        table = self.query_one(LiveTable)
        table.show([(r.repo, _cells(r)) for r in rows])
        self._conflicts(table.selected_key())

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        self._conflicts(None if message.row_key.value is None else str(message.row_key.value))

    def _conflicts(self, repo: str | None) -> None:
        if repo is not None and repo == self._diffed:
            return
        self._diffed = None
        row = self.state.syncs.get(repo or "")
        if row is None or not row.conflicts:
            lines = ["no conflicts"] if row is not None else []
        else:
            lines = [f"{path}: {detail}" for path, detail in row.conflicts.items()]
        if lines != self._shown:
            self._shown = lines
            self.query_one(Log).clear().write_lines(lines)

    def action_diff(self) -> None:
        repo = self.query_one(LiveTable).selected_key()
        if repo is not None:
            self.run_worker(self._diff(repo), group="sync-diff", exclusive=True)

    async def _diff(self, repo: str) -> None:
        try:
            diffs = await asyncio.to_thread(self.live.source.conflict_diffs, repo)
        except Exception as error:  # shown; the screen stays
            self.notify(f"could not plan a sync of {repo}: {error}", severity="error")
            return
        lines = [f"{repo}: no file in conflict now"] if not diffs else []
        for path, diff in diffs.items():
            lines += [f"{path}:", *(diff.splitlines() or ["(no diff)"]), ""]
        self._shown, self._diffed = lines, repo
        self.query_one(Log).clear().write_lines(lines)


def _cells(row: SyncRow) -> tuple[str, ...]:
    counts = (row.written, row.merged, len(row.conflicts), row.skipped)
    return (row.repo, *map(str, counts), row.error or "")
