"""How ``nestr run`` and ``nestr runs resume`` show a run: live on a terminal, lines otherwise.

Both views are event-bus listeners; the summary at the end is printed from the run's result.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from nestr.cli.render import follow_events

if TYPE_CHECKING:
    from nestr.events import Event, EventBus
    from nestr.workflow.executor import RunResult
    from nestr.workflow.model import Workflow

SYMBOLS = {
    "pending": "·",
    "running": "▶",
    "succeeded": "✓",
    "failed": "✗",
    "skipped": "-",
    "cancelled": "⊘",
    "retrying": "↻",
}
STYLES = {"succeeded": "green", "failed": "red", "cancelled": "yellow", "running": "cyan"}
TAIL_LINES = 8


def describe(event: Event) -> str | None:
    """One plain line for an event of a run (None for events not worth a line)."""
    from nestr.events import catalog as c

    kind = event.type
    if kind == c.RUN_STARTED.name:
        started = c.RUN_STARTED.data_of(event)
        return f"run {event.run_id} of {started['workflow']} started ({started['steps']} steps)"
    if kind == c.RUN_RESUMED.name:
        resumed = c.RUN_RESUMED.data_of(event)
        return f"run {event.run_id} resumed ({resumed['done']}/{resumed['steps']} done before)"
    if kind == c.STEP_STARTED.name:
        attempt = c.STEP_STARTED.data_of(event)["attempt"]
        return f"{SYMBOLS['running']} {event.step} (attempt {attempt})"
    if kind == c.STEP_RETRYING.name:
        retrying = c.STEP_RETRYING.data_of(event)
        return f"{SYMBOLS['retrying']} {event.step} attempt {retrying['attempt']} failed: " + str(
            retrying.get("error")
        )
    if kind == c.STEP_FINISHED.name:
        ended = c.STEP_FINISHED.data_of(event)
        status = ended["status"]
        extra = ended.get("error") or ended.get("reason")
        seconds = ended.get("seconds")
        took = f" {seconds:.2f}s" if seconds is not None else ""
        tail = f": {extra}" if extra else ""
        return f"{SYMBOLS.get(status, '?')} {event.step} {status}{took}{tail}"
    return None


class LineView:
    """Plain progress lines on stderr (pipes, CI logs)."""

    def __call__(self, event: Event) -> None:
        line = describe(event)
        if line:
            click.echo(line, err=True)


@dataclass
class _Row:
    status: str = "pending"
    attempt: int = 0
    started: float | None = None
    seconds: float | None = None
    tail: list[str] = field(default_factory=list)


class LiveView:
    """A rich Live tree of the DAG: steps in run order with what they need, foreach
    instances under their step, each with status, duration and attempt."""

    def __init__(self, title: str, workflow: Workflow | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        from nestr.workflow.graph import edges_of, topological_order

        self.title = title
        self.rows: dict[str, _Row] = {}
        self.steps = (
            []
            if workflow is None
            else [workflow.step(i) for i in topological_order(edges_of(workflow))]
        )
        # Live's refresh thread calls _render itself, so running durations keep ticking.
        self.live = Live(
            console=Console(stderr=True), refresh_per_second=8, get_renderable=self._render
        )

    def __call__(self, event: Event) -> None:
        from nestr.events import catalog as c

        if event.step is None or not event.type.startswith(c.STEP_PREFIX):
            return
        row = self.rows.setdefault(event.step, _Row())
        kind = event.type
        if kind == c.STEP_STARTED.name:
            attempt = c.STEP_STARTED.data_of(event)["attempt"]
            row.status, row.attempt, row.started = "running", attempt, time.time()
        elif kind == c.STEP_LOG.name:
            lines = c.STEP_LOG.data_of(event)["text"].splitlines()
            row.tail = (row.tail + lines)[-TAIL_LINES:]
        elif kind == c.STEP_RETRYING.name:
            row.status = "retrying"
        elif kind == c.STEP_FINISHED.name:
            ended = c.STEP_FINISHED.data_of(event)
            row.status = ended["status"]
            row.seconds = ended.get("seconds")

    def _render(self) -> Any:
        from rich.text import Text
        from rich.tree import Tree

        tree = Tree(Text(self.title, style="bold"))
        rows = dict(list(self.rows.items()))  # a snapshot: the loop thread adds rows
        shown: set[str] = set()
        for step in self.steps:
            needs = Text(f"  ← {', '.join(step.needs)}", style="dim") if step.needs else ""
            if step.foreach is None:
                shown.add(step.id)
                _add_row(tree, step.id, rows.get(step.id, _Row()), needs)
                continue
            parent = tree.add(Text.assemble(Text(f"{step.id} (foreach)", style="bold"), needs))
            for key in [k for k in rows if k.startswith(step.id + "[")]:
                shown.add(key)
                _add_row(parent, key, rows[key], "")
        for key, row in rows.items():
            if key not in shown:
                _add_row(tree, key, row, "")
        return tree


def _add_row(parent: Any, key: str, row: _Row, suffix: Any) -> None:
    from rich.text import Text

    seconds = row.seconds
    if seconds is None and row.started is not None:
        seconds = time.time() - row.started
    took = f" {seconds:.1f}s" if seconds is not None else ""
    again = f" (attempt {row.attempt})" if row.attempt > 1 else ""
    label = Text(f"{SYMBOLS.get(row.status, '?')} {key} {row.status}{took}{again}")
    label.stylize(STYLES.get(row.status, ""))
    node = parent.add(Text.assemble(label, suffix) if suffix else label)
    if row.status == "failed":
        for line in row.tail:
            node.add(Text(line, style="dim"))


def watching(
    bus: EventBus, title: str, workflow: Workflow | None = None
) -> contextlib.AbstractContextManager[None]:
    """Show the run while the block runs: a live tree on a terminal, lines otherwise."""
    return follow_events(bus, lambda: LiveView(title, workflow), LineView())


def print_summary(result: RunResult, tails: dict[str, str] | None = None) -> None:
    """The end of a run on stdout: each instance, its problems (with the tail of their
    output), and the totals."""
    width = max((len(s.key) for s in result.steps), default=0)
    for step in result.steps:
        took = f"{step.duration:.2f}s" if step.duration is not None else "-"
        tries = f"  {step.attempts} attempts" if step.attempts > 1 else ""
        symbol = SYMBOLS.get(step.status, "?")
        click.echo(f"{symbol} {step.key:<{width}}  {step.status:<9} {took}{tries}")
    for step in result.steps:
        if step.status == "failed" and step.error:
            click.echo(f"\n{step.key}: {step.error}")
            tail = (tails or {}).get(step.key)
            if tail:
                click.echo("\n".join(f"  | {line}" for line in tail.splitlines()))
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result.counts().items()))
    click.echo(
        f"\nrun {result.run_id} {result.status} in {result.seconds:.2f}s ({counts or 'no steps'})"
    )
    if result.compensation is not None:
        undone = len(result.compensations)
        click.echo(f"compensated: {result.compensation} ({undone} compensations)")
