"""The Runs screen: recent and live runs, filtered by status and workflow; ``enter`` opens one.

History comes from the run queries a page at a time (``m`` reads the next page); live runs
come from the events, so a run started elsewhere appears without a refresh.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input

from nestr.tui.screens.base import LiveScreen
from nestr.tui.state import MAX_RUNS, RunRow
from nestr.tui.table import LiveTable, clock, took

PAGE = 200  # runs read per page
STATUSES = ("", "running", "failed", "succeeded", "cancelled", "interrupted")
COLUMNS = (
    ("run", 16),
    ("workflow", 20),
    ("status", 11),
    ("started", 8),
    ("duration", 8),
    ("progress", 8),
    ("correlation", 12),
)


class RunsScreen(LiveScreen):
    """Every run the store knows, newest first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open"),
        Binding("s", "cycle_status", "Status filter"),
        Binding("slash", "filter_workflow", "Workflow filter"),
        Binding("m", "more", "More"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.status_filter = ""
        self.workflow_filter = ""
        self.limit = PAGE

    def body(self) -> ComposeResult:
        yield LiveTable(COLUMNS, id="runs")
        yield Input(placeholder="workflow contains… (enter applies, empty clears)", id="wf")

    def on_mount(self) -> None:
        self.query_one("#wf", Input).display = False
        self.run_worker(self._load(), group="runs-page", exclusive=True)

    async def _load(self) -> None:
        try:
            records = await asyncio.to_thread(self.live.source.runs, self.limit)
        except Exception as error:  # shown; live runs still come from the events
            self.notify(f"could not list runs: {error}", severity="error")
            return
        self.state.add_records(records)
        self.redraw()
        unknown = [r.id for r in records if r.id in self.state.runs]
        unknown = [r for r in unknown if not self.state.runs[r].correlation_id]
        found = await asyncio.to_thread(self.live.source.correlations, unknown)
        for run_id, cid in found.items():
            if run_id in self.state.runs:
                self.state.runs[run_id].correlation_id = cid
        self.redraw()

    def shown(self) -> list[RunRow]:
        """The runs the filters let through, newest first."""
        return [
            r
            for r in self.state.sorted_runs()
            if (not self.status_filter or r.status == self.status_filter)
            and self.workflow_filter in r.workflow
        ]

    def redraw(self) -> None:
        now = self.live.clock()
        rows = [(r.id, _cells(r, now)) for r in self.shown()]
        self.query_one(LiveTable).show(rows)
        parts = [f"status={self.status_filter}" if self.status_filter else ""]
        parts.append(f"workflow~{self.workflow_filter}" if self.workflow_filter else "")
        self.sub_title = " ".join(p for p in parts if p)

    def action_open(self) -> None:
        from nestr.tui.screens.run import RunScreen

        key = self.query_one(LiveTable).selected_key()
        if key is not None:
            self.app.push_screen(RunScreen(key))

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        message.stop()
        self.action_open()

    def action_cycle_status(self) -> None:
        self.status_filter = STATUSES[(STATUSES.index(self.status_filter) + 1) % len(STATUSES)]
        self.notify(f"status: {self.status_filter or 'all'}", timeout=1.5)
        self.redraw()

    def action_filter_workflow(self) -> None:
        box = self.query_one("#wf", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        self.workflow_filter = message.value.strip()
        message.input.display = False
        self.query_one(LiveTable).focus()
        self.redraw()

    def action_more(self) -> None:
        self.limit = min(self.limit + PAGE, MAX_RUNS)
        self.run_worker(self._load(), group="runs-page", exclusive=True)


def _cells(run: RunRow, now: float) -> tuple[str, ...]:
    return (
        run.id,
        run.workflow,
        run.status,
        clock(run.started),
        took(run.duration(now)),
        run.progress(),
        (run.correlation_id or "-")[:12],
    )
