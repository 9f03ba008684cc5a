"""``nestr runs list|show|logs|cancel|resume|failed-steps|retry``: runs recorded in the
store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from nestr.cli.commands._runview import watching
from nestr.cli.commands.run import report, run_cancellable
from nestr.cli.context import session
from nestr.cli.options import jobs_option
from nestr.cli.render import json_option, print_json
from nestr.errors import NestrError
from nestr.workflow.liveness import run_dict, shown_status

if TYPE_CHECKING:
    from nestr.cli.surface import Nestr
    from nestr.workflow.queries import RunRecord, StepRecord
    from nestr.workflow.steplogs import LogsElsewhere

_run_argument = click.argument("run_id", metavar="RUN")


@click.group()
def runs() -> None:
    """List, show, follow, cancel, resume and retry runs (RUN is an id or a unique prefix)."""


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
    records = session(ctx).queries.runs(limit)
    if as_json:
        print_json([run_dict(r) for r in records])
        return 0
    for record in records:
        click.echo(
            f"{record.id}  {record.workflow:<20} {shown_status(record):<11} "
            f"{_when(record.created)}  {_took(record)}"
        )
    return 0


@runs.command()
@_run_argument
@json_option
@click.pass_context
def show(ctx: click.Context, run_id: str, as_json: bool) -> int:
    """A run, its step instances and every attempt."""
    detail = session(ctx).queries.detail(run_id)
    if as_json:
        print_json(detail.to_dict())
        return 0
    record = detail.run
    click.echo(f"run {record.id}  {record.workflow}  {shown_status(record)}")
    click.echo(f"started {_when(record.created)}  finished {_when(record.finished)}")
    if record.compensation is not None:
        click.echo(f"compensated: {record.compensation}")
    if record.inputs:
        click.echo("inputs: " + ", ".join(f"{k}={v}" for k, v in record.inputs.items()))
    width = max((len(s.key) for s in detail.steps), default=0)
    _step_lines(detail.forward, width)
    if detail.compensations:
        click.echo("compensations:")
        _step_lines(detail.compensations, width)
    return 0


def _step_lines(steps: list[StepRecord], width: int) -> None:
    for step in steps:
        took = f"{step.duration:.2f}s" if step.duration is not None else "-"
        line = f"  {step.key:<{width}}  {step.status:<9} {took:>8}  attempts {step.attempts}"
        click.echo(line + (f"  {step.error}" if step.error else ""))


@runs.command("failed-steps")
@click.argument("run_id", metavar="[RUN]", required=False)
@json_option
@click.pass_context
def failed_steps(ctx: click.Context, run_id: str | None, as_json: bool) -> int:
    """Steps that failed for good in ended runs (the dead-letter list), newest run first."""
    found = session(ctx).failed_steps(run_id)
    if as_json:
        print_json([f.to_dict() for f in found])
        return 0
    for item in found:
        error = f"  {item.error}" if item.error else ""
        click.echo(
            f"{item.run_id}  {item.workflow:<20} {item.key}  attempts {item.attempts}{error}"
        )
    return 0


@runs.command()
@_run_argument
@click.argument("step")
@jobs_option
@json_option
@click.pass_context
def retry(ctx: click.Context, run_id: str, step: str, jobs: int | None, as_json: bool) -> int:
    """Run again a failed STEP (an id or a key like test[api]) of an ended run, and the steps
    it held back; the rest of the run is not rerun."""
    nestr = session(ctx)
    record = nestr.resume_target(run_id)
    with watching(nestr.bus, record.workflow, nestr.queries.workflow(record)):
        result = run_cancellable(
            lambda cancel: nestr.retry_step(record.id, step, jobs=jobs, cancel=cancel)
        )
    report(result, nestr, as_json=as_json)
    return result.exit_code


@runs.command()
@_run_argument
@click.argument("step", required=False)
@click.option("--follow", "-f", is_flag=True, help="Keep printing output until the run ends.")
@click.pass_context
def logs(ctx: click.Context, run_id: str, step: str | None, follow: bool) -> int:
    """Captured output of a run, or of one STEP (an id, or an instance key like test[api]).

    A step a Temporal worker ran is read from that worker's store when this host can read
    it; otherwise the command says on which host and in which state dir it is (exit 1)."""
    nestr = session(ctx)
    record = nestr.queries.find_run(run_id)
    if follow:
        return _follow_logs(nestr, record.id, nestr.queries.step_keys(record.id, step))
    found = nestr.queries.step_logs(record.id, step)
    for log in found.records:
        click.echo(f"==> {log.key} (attempt {log.attempt}, {log.stream}) <==")
        click.echo(log.text.rstrip("\n"))
        if log.truncated:
            click.echo("[output truncated]")
    if found.elsewhere:
        raise _kept_elsewhere(record.id, found.elsewhere)
    return 0


def _kept_elsewhere(run_id: str, places: list[LogsElsewhere]) -> NestrError:
    """The error that says where the logs this host cannot read are."""
    where = "; ".join(
        f"{', '.join(p.keys)} on host {p.host}, in the store at {p.state_dir}" for p in places
    )
    first = places[0]
    return NestrError(
        f"run {run_id}: logs kept where this host cannot read them: {where}",
        hint=f"on {first.host}: nestr --set state_dir={first.state_dir} runs logs {run_id}",
    )


def _follow_logs(nestr: Nestr, run_id: str, keys: set[str]) -> int:
    import asyncio

    from nestr.cli.errors import exit_on_sigterm
    from nestr.events.catalog import STEP_LOG

    async def print_logs() -> None:
        async for event in nestr.follow_step_logs(run_id):
            if event.step in keys:
                prefix = f"[{event.step}] " if len(keys) > 1 else ""
                for line in STEP_LOG.data_of(event)["text"].splitlines():
                    click.echo(prefix + line)

    # ends with the run (0); Ctrl-C before exits 130 (interrupted), SIGTERM 143
    with exit_on_sigterm():
        asyncio.run(print_logs())
    return 0


@runs.command()
@_run_argument
@click.pass_context
def cancel(ctx: click.Context, run_id: str) -> int:
    """Ask a running run to stop; the process running it kills its steps and exits 130."""
    done = session(ctx).cancel(run_id)
    record = done.run
    if done.outcome == "ended":
        click.echo(f"run {record.id} already ended: {record.status}")
    elif done.outcome == "cancelled-interrupted":
        click.echo(f"run {record.id} was interrupted; marked cancelled")
    else:
        click.echo(f"cancel requested for run {record.id}")
    return 0


@runs.command()
@_run_argument
@jobs_option
@json_option
@click.pass_context
def resume(ctx: click.Context, run_id: str, jobs: int | None, as_json: bool) -> int:
    """Continue a failed, cancelled or interrupted run; steps that succeeded are not rerun."""
    nestr = session(ctx)
    record = nestr.resume_target(run_id)
    with watching(nestr.bus, record.workflow, nestr.queries.workflow(record)):
        result = run_cancellable(lambda cancel: nestr.resume(record.id, jobs=jobs, cancel=cancel))
    report(result, nestr, as_json=as_json)
    return result.exit_code
