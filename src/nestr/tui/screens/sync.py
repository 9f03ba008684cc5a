"""The Sync screen: the last sync of each repo (written, merged, conflicts, skipped), and for
the selected repo the files it left in conflict with what the merge reported."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable, Static

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

    DEFAULT_CSS = """
    SyncScreen #syncs { height: 1fr; }
    SyncScreen #conflicts { height: 1fr; border: round $warning; padding: 0 1; }
    """

    def body(self) -> ComposeResult:
        yield LiveTable(COLUMNS, id="syncs")
        yield Static("", id="conflicts", markup=False)

    def redraw(self) -> None:
        rows = sorted(self.state.syncs.values(), key=lambda r: r.repo)
        table = self.query_one(LiveTable)
        table.show([(r.repo, _cells(r)) for r in rows])
        self._conflicts(table.selected_key())

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        self._conflicts(None if message.row_key.value is None else str(message.row_key.value))

    def _conflicts(self, repo: str | None) -> None:
        row = self.state.syncs.get(repo or "")
        if row is None or not row.conflicts:
            text = "no conflicts" if row is not None else ""
        else:
            text = "\n\n".join(f"{path}\n{detail}" for path, detail in row.conflicts.items())
        self.query_one("#conflicts", Static).update(text)


def _cells(row: SyncRow) -> tuple[str, ...]:
    counts = (row.written, row.merged, len(row.conflicts), row.skipped)
    return (row.repo, *map(str, counts), row.error or "")
