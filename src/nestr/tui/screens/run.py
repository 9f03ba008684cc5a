"""The Run screen: a run's DAG as a layered list (fan-out instances per repo), live state,
attempts, durations and retry countdowns; the selected step's log tailing live, its outputs;
cancel and resume/re-run, each confirmed and its result reported."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Log, Static

from nestr.tui.screens.base import LiveScreen
from nestr.tui.screens.dialogs import Confirm
from nestr.tui.table import LiveTable, took

if TYPE_CHECKING:
    from nestr.tui.state import StepRow

COLUMNS = (
    ("layer", 5),
    ("step", 28),
    ("repo", 16),
    ("status", 10),
    ("attempts", 8),
    ("duration", 8),
    ("retry in", 8),
)
RESUMABLE = frozenset({"failed", "cancelled", "interrupted"})


class RunScreen(LiveScreen):
    """One run, live."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "cancel_run", "Cancel run"),
        Binding("r", "resume_run", "Resume/re-run"),
    ]
    DEFAULT_CSS = """
    RunScreen #steps { height: 1fr; }
    RunScreen #lower { height: 1fr; }
    RunScreen #log { width: 2fr; border: round $secondary; }
    RunScreen #outputs { width: 1fr; border: round $secondary; padding: 0 1; }
    RunScreen #result { height: 1; padding: 0 1; }
    """

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.depth: dict[str, int] = {}
        self._stored_logs: dict[str, str] = {}
        self._log_key: str | None = None
        self._log_written = 0

    def body(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="title", markup=False)
            yield LiveTable(COLUMNS, id="steps")
            yield Static("", id="result", markup=False)
            with Horizontal(id="lower"):
                yield Log(max_lines=2_000, id="log")
                yield Static("", id="outputs", markup=False)

    def on_mount(self) -> None:
        self.run_worker(self._load(), group="run-detail", exclusive=True)

    async def _load(self) -> None:
        source = self.live.source
        try:
            detail = await asyncio.to_thread(source.detail, self.run_id)
        except Exception as error:  # shown; the events still draw the run
            self._report(f"could not read run {self.run_id}: {error}", error=True)
            return
        self.state.add_records([detail.run])
        self.state.add_steps(self.run_id, detail.steps)
        self.redraw()
        try:  # its DAG, for the layers and retry countdowns; a run drawn without it is fine
            graph = await asyncio.to_thread(source.graph, detail.run)
        except Exception:  # an unreadable definition: no layers, no countdowns
            graph = None
        if graph is not None:
            self.depth = graph.layers()
            self.state.policies[self.run_id] = graph.policies()
        self.redraw()

    def steps(self) -> list[StepRow]:
        """The run's step instances, layer by layer, in recorded order within a layer."""
        rows = list(self.state.steps.get(self.run_id, {}).values())
        return sorted(rows, key=lambda s: self.depth.get(s.step_id, 0))

    def redraw(self) -> None:
        run = self.state.runs.get(self.run_id)
        now = self.live.clock()
        if run is not None:
            self.query_one("#title", Static).update(
                f"run {run.id} · {run.workflow} · {run.status} · {run.progress()} · "
                f"{took(run.duration(now))}"
            )
        rows = [(s.key, self._cells(s, now)) for s in self.steps()]
        table = self.query_one(LiveTable)
        table.show(rows)
        self._draw_step(table.selected_key())

    def _cells(self, step: StepRow, now: float) -> tuple[str, ...]:
        end = step.finished if step.finished is not None else now
        duration = None if step.started is None else end - step.started
        due = self.state.retry_due(self.run_id, step)
        wait = "-" if due is None else f"{max(0.0, due - now):.1f}s"
        layer = str(self.depth[step.step_id]) if step.step_id in self.depth else "-"
        cells = (layer, step.key, step.repo or "-", step.status, str(step.attempts))
        return (*cells, took(duration), wait)

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        self._draw_step(None if message.row_key.value is None else str(message.row_key.value))

    def _draw_step(self, key: str | None) -> None:
        """The selected instance's outputs, and its log: new lines only, from the events, or
        what the store captured when the events of it are older than the replay."""
        if key is None:
            return
        log = self.query_one(Log)
        if key != self._log_key:
            log.clear()
            self._log_key, self._log_written = key, 0
            if (self.run_id, key) not in self.state.logs:
                self.run_worker(self._load_log(key), group="run-log", exclusive=True)
        step = self.state.steps.get(self.run_id, {}).get(key)
        if step is not None:
            shown = "\n".join(f"{k} = {v}" for k, v in step.outputs.items()) or "(no outputs)"
            error = f"\n\nerror: {step.error}" if step.error else ""
            self.query_one("#outputs", Static).update(f"outputs of {key}\n\n{shown}{error}")
        self._tail(log, key)

    def _tail(self, log: Log, key: str) -> None:
        lines = self.state.logs.get((self.run_id, key))
        if lines is None:
            return
        total = self.state.log_lines.get((self.run_id, key), 0)
        new = min(total - self._log_written, len(lines))
        if new > 0:
            log.write_lines(list(lines)[len(lines) - new :])
        self._log_written = total

    async def _load_log(self, key: str) -> None:
        text = await asyncio.to_thread(self.live.source.log, self.run_id, key)
        if (self.run_id, key) not in self.state.logs:
            self.state.add_log(self.run_id, key, text)
        if key == self._log_key:
            self._tail(self.query_one(Log), key)

    # --- actions ------------------------------------------------------------------------------

    def action_cancel_run(self) -> None:
        self.app.push_screen(Confirm(f"Cancel run {self.run_id}?"), self._cancel_confirmed)

    def _cancel_confirmed(self, yes: bool | None) -> None:
        if yes:
            self.run_worker(self._cancel(), group="run-action")

    async def _cancel(self) -> None:
        try:
            done = await asyncio.to_thread(self.live.source.cancel, self.run_id)
        except Exception as error:
            self._report(f"cancel failed: {error}", error=True)
            return
        self._report(f"cancel: {done.outcome}")

    def action_resume_run(self) -> None:
        run = self.state.runs.get(self.run_id)
        if run is None or run.status not in RESUMABLE:
            self._report("only a failed, cancelled or interrupted run can be resumed", True)
            return
        self.app.push_screen(Confirm(f"Resume run {self.run_id}?"), self._resume_confirmed)

    def _resume_confirmed(self, yes: bool | None) -> None:
        if yes:
            self.run_worker(self._resume(), group="run-action")

    async def _resume(self) -> None:
        out = Path(tempfile.gettempdir()) / f"nestr-ui-resume-{self.run_id}.log"
        try:
            pid = await asyncio.to_thread(self.live.source.resume, self.run_id, out)
        except OSError as error:
            self._report(f"resume failed: {error}", error=True)
            return
        self._report(f"resume started (pid {pid}, output in {out})")

    def _report(self, text: str, error: bool = False) -> None:
        self.query_one("#result", Static).update(text)
        self.notify(text, severity="error" if error else "information")
