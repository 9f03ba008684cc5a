"""The Runs screen: recent and live runs, filtered by status and workflow; ``enter`` opens one.

History comes from the run queries a page at a time (``m`` reads the next page); live runs
come from the events, so a run started elsewhere appears without a refresh.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input

from nestr.tui.screens.base import KeyLine, LiveScreen
from nestr.tui.state import MAX_RUNS, PAGE, RunRow
from nestr.tui.table import LiveTable, clock, took

if TYPE_CHECKING:
    from concurrent.futures import Future

    from nestr.workflow.queries import RunRecord

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

    def on_mount(self) -> None:
        page = self.live.first_page
        if page.done() and page.exception() is None:  # read while the app started:
            self._first(page.result())  # its rows are in the first frame
        else:
            self.run_worker(self._wait_first(page), group="runs-page", exclusive=True)

    async def _wait_first(self, page: Future[list[RunRecord]]) -> None:
        try:
            records = await asyncio.wrap_future(page)
        except Exception as error:  # shown; live runs still come from the events
            self.notify(f"could not list runs: {error}", severity="error")
            records = []
        self._first(records)

    def _first(self, records: list[RunRecord]) -> None:
        """Show the first page (a screenful); once it is painted, the stream starts and the
        rest of the page is read."""
        self.state.add_records(records)
        self.redraw()
        self.call_after_refresh(self._after_first_paint)

    def _after_first_paint(self) -> None:
        self.live.start_stream()
        self.run_worker(self._load(), group="runs-page", exclusive=True)

    async def _load(self) -> None:
        """A page of runs, then the correlation ids of its runs."""
        try:
            records = await asyncio.to_thread(self.live.source.runs, self.limit)
        except Exception as error:  # shown; live runs still come from the events
            self.notify(f"could not list runs: {error}", severity="error")
            return
        self.state.add_records(records)
        self.redraw()
        await self._correlate(records)

    async def _correlate(self, records: list[RunRecord]) -> None:
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
        """Ask for the text; the box is made on first use (not in the first frame's work)."""
        found = self.query("#wf")
        if found:
            box = found.first(Input)
        else:
            box = Input(placeholder="workflow contains… (enter applies, empty clears)", id="wf")
            self.mount(box, before=self.query_one(KeyLine))
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
