"""``nestr runs list|show|logs|cancel|resume``: runs recorded in the store."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from nestr.cli.commands._runview import watching
from nestr.cli.commands.run import report, run_cancellable
from nestr.cli.context import app
from nestr.cli.options import jobs_option
from nestr.cli.render import json_option, print_json

if TYPE_CHECKING:
    from nestr.store import RunRecord, RunStore

_run_argument = click.argument("run_id", metavar="RUN")


@click.group()
def runs() -> None:
    """List, show, follow, cancel and resume runs (RUN is an id or a unique prefix)."""


def _store(ctx: click.Context) -> tuple[RunStore, Path]:
    from nestr.store import RunStore, open_database

    state_dir = app(ctx).config().settings.state_dir
    return RunStore(open_database(state_dir)), state_dir


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _took(record: RunRecord) -> str:
    end = record.finished if record.finished is not None else record.heartbeat
    return f"{(end or record.created) - record.created:.2f}s"


@runs.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=50, help="Newest N runs (50).")
@json_option
@click.pass_context
def list_runs(ctx: click.Context, limit: int, as_json: bool) -> int:
    """Newest runs first: id, workflow, status, start time, duration."""
    store, _ = _store(ctx)
    records = store.runs(limit)
    if as_json:
        print_json([r.to_dict() for r in records])
        return 0
    for record in records:
        click.echo(
            f"{record.id}  {record.workflow:<20} {record.shown_status:<11} "
            f"{_when(record.created)}  {_took(record)}"
        )
    return 0


@runs.command()
@_run_argument
@json_option
@click.pass_context
def show(ctx: click.Context, run_id: str, as_json: bool) -> int:
    """A run, its step instances and every attempt."""
    store, _ = _store(ctx)
    record = store.find_run(run_id)
    steps = store.steps(record.id)
    attempts = store.attempts(record.id)
    if as_json:
        print_json(
            {
                **record.to_dict(),
                "steps": [s.to_dict() for s in steps],
                "attempts": [a.to_dict() for a in attempts],
            }
        )
        return 0
    click.echo(f"run {record.id}  {record.workflow}  {record.shown_status}")
    click.echo(f"started {_when(record.created)}  finished {_when(record.finished)}")
    if record.inputs:
        click.echo("inputs: " + ", ".join(f"{k}={v}" for k, v in record.inputs.items()))
    width = max((len(s.key) for s in steps), default=0)
    for step in steps:
        took = f"{step.duration:.2f}s" if step.duration is not None else "-"
        line = f"  {step.key:<{width}}  {step.status:<9} {took:>8}  attempts {step.attempts}"
        click.echo(line + (f"  {step.error}" if step.error else ""))
    return 0


@runs.command()
@_run_argument
@click.argument("step", required=False)
@click.option("--follow", "-f", is_flag=True, help="Keep printing output until the run ends.")
@click.pass_context
def logs(ctx: click.Context, run_id: str, step: str | None, follow: bool) -> int:
    """Captured output of a run, or of one STEP (an id, or an instance key like test[api])."""
    store, state_dir = _store(ctx)
    record = store.find_run(run_id)
    keys = _keys(store, record.id, step)
    if follow:
        return _follow_logs(store, state_dir, record.id, keys)
    for log in store.logs(record.id):
        if log.key in keys:
            click.echo(f"==> {log.key} (attempt {log.attempt}, {log.stream}) <==")
            click.echo(log.text.rstrip("\n"))
            if log.truncated:
                click.echo("[output truncated]")
    return 0


def _keys(store: RunStore, run_id: str, step: str | None) -> set[str]:
    from nestr.errors import UsageError, did_you_mean

    keys = [s.key for s in store.steps(run_id)]
    if step is None:
        return set(keys)
    chosen = {k for k in keys if k == step or k.split("[", 1)[0] == step}
    if not chosen:
        raise UsageError(f"run {run_id} has no step {step!r}", hint=did_you_mean(step, keys))
    return chosen


def _follow_logs(store: RunStore, state_dir: Path, run_id: str, keys: set[str]) -> int:
    import asyncio

    from nestr.cli.errors import exit_on_sigterm
    from nestr.events.catalog import STEP_LOG
    from nestr.store.eventlog import open_event_log

    log = open_event_log(state_dir)

    def over() -> bool:
        record = store.run(run_id)
        return record.shown_status not in {"running", "pending"}

    async def print_logs() -> None:
        async for event in log.follow(0, type_prefixes=[STEP_LOG.name], run_id=run_id, stop=over):
            if event.step in keys:
                prefix = f"[{event.step}] " if len(keys) > 1 else ""
                for line in STEP_LOG.data_of(event)["text"].splitlines():
                    click.echo(prefix + line)

    # ends with the run (0); Ctrl-C before exits 130 (interrupted), SIGTERM 143
    with exit_on_sigterm(), contextlib.closing(log):
        asyncio.run(print_logs())
    return 0


@runs.command()
@_run_argument
@click.pass_context
def cancel(ctx: click.Context, run_id: str) -> int:
    """Ask a running run to stop; the process running it kills its steps and exits 130."""
    store, _ = _store(ctx)
    record = store.find_run(run_id)
    if record.status not in {"running", "pending"}:
        click.echo(f"run {record.id} already ended: {record.status}")
        return 0
    if record.shown_status == "interrupted" and _cancel_interrupted(store, record):
        click.echo(f"run {record.id} was interrupted; marked cancelled")
        return 0
    store.request_cancel(record.id, time.time())
    click.echo(f"cancel requested for run {record.id}")
    return 0


def _cancel_interrupted(store: RunStore, record: RunRecord) -> bool:
    """Nobody is there to observe a request: end the run here, and the process groups its
    steps left running. False when another process took the run over meanwhile."""
    from nestr.events.catalog import RUN_FINISHED, RunFinished
    from nestr.workflow.runs import end_left_groups

    event = RUN_FINISHED.event(
        RunFinished(status="cancelled", reason="cancelled while interrupted"),
        subject=record.workflow,
        run_id=record.id,
    )
    if not store.cancel_interrupted(record, time.time(), event):
        return False
    end_left_groups(store.db, record)
    return True


@runs.command()
@_run_argument
@jobs_option
@json_option
@click.pass_context
def resume(ctx: click.Context, run_id: str, jobs: int | None, as_json: bool) -> int:
    """Continue a failed, cancelled or interrupted run; steps that succeeded are not rerun."""
    from nestr.events import EventBus
    from nestr.store.eventlog import open_event_log
    from nestr.workflow.model import Workflow
    from nestr.workflow.runs import resume_run

    settings = app(ctx).config().settings
    store, _ = _store(ctx)
    record = store.find_run(run_id)
    log = open_event_log(settings.state_dir)
    bus = EventBus(sink=log)
    try:
        with watching(bus, record.workflow, Workflow.from_dict(record.definition)):
            result = run_cancellable(
                lambda cancel: resume_run(
                    record.id,
                    state_dir=settings.state_dir,
                    jobs=jobs or settings.jobs,
                    bus=bus,
                    cancel=cancel,
                )
            )
    finally:
        log.close()
    report(result, settings.state_dir, as_json=as_json)
    return result.exit_code
