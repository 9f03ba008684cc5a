"""``nestr foreach -- CMD ARG…``: run a command in each repo, output prefixed by repo."""

from __future__ import annotations

import asyncio
import signal
from collections import defaultdict
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nestr.cli.context import local_session
from nestr.cli.options import (
    group_option,
    jobs_option,
    manifest_option,
    parse_duration_flag,
    repo_option,
    workspace_option,
)
from nestr.cli.render import json_option, print_json

if TYPE_CHECKING:
    from nestr.events import Event
    from nestr.workspace.foreach import ForeachReport


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@manifest_option
@workspace_option
@group_option
@repo_option
@jobs_option
@click.option("--keep-going", is_flag=True, help="Run in every repo even after a failure.")
@click.option("--shell", is_flag=True, help="Run the command with `sh -c` (words joined).")
@click.option("--group-output", is_flag=True, help="Print each repo's output when it finishes.")
@click.option(
    "--timeout",
    metavar="DURATION",
    help="End a repo's command (and all it started) after this long, e.g. 90s, 10m, 1h30m.",
)
@json_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def foreach(
    ctx: click.Context,
    manifest_path: Path | None,
    workspace_dir: Path | None,
    groups: tuple[str, ...],
    repo_names: tuple[str, ...],
    jobs: int | None,
    keep_going: bool,
    shell: bool,
    group_output: bool,
    timeout: str | None,
    as_json: bool,
    command: tuple[str, ...],
) -> int:
    """Run a command in each repo of the workspace.

    Output lines are prefixed by the repo name. Exit 0 when the command exited 0 everywhere,
    1 otherwise; without --keep-going no new repo starts after the first failure.
    """
    limit = parse_duration_flag(timeout, flag="--timeout") if timeout is not None else None
    nestr = local_session(ctx, only_here=True)
    target = nestr.target(
        manifest=manifest_path,
        workspace=workspace_dir,
        groups=groups,
        names=repo_names,
        action="foreach",
    )
    width = max((len(spec.name) for spec in target.repos), default=0)
    renderer = _Renderer(width, grouped=group_output, quiet=as_json)
    nestr.bus.add_listener(renderer)
    work = nestr.foreach(
        target, command, shell=shell, jobs=jobs, keep_going=keep_going, timeout=limit
    )
    report = asyncio.run(_stop_on_sigterm(work))
    if as_json:
        print_json(_json(report, renderer.lines))
    else:
        _print_summary(report)
    return 0 if report.ok else 1


async def _stop_on_sigterm(work: Coroutine[Any, Any, ForeachReport]) -> ForeachReport:
    """Await ``work``; SIGTERM cancels it like Ctrl-C does, so children are killed too.

    Python's default SIGTERM action ends nestr at once, leaving the commands (each in its own
    session, out of reach of the terminal's signals) running.
    """
    from nestr.errors import Interrupted

    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        if task.cancelled() and not _current_cancelling():
            raise Interrupted("terminated (SIGTERM); every command was stopped") from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _current_cancelling() -> int:
    """How many cancellations are pending for the running task (Ctrl-C cancels it)."""
    current = asyncio.current_task()
    return current.cancelling() if current is not None else 0


class _Renderer:
    """Prints foreach events: each line prefixed by its repo, live or one block per repo."""

    def __init__(self, width: int, *, grouped: bool, quiet: bool) -> None:
        self.width = width
        self.grouped = grouped
        self.quiet = quiet
        self.lines: dict[str, list[str]] = defaultdict(list)

    def __call__(self, event: Event) -> None:
        from nestr.events.catalog import FOREACH_FINISHED, FOREACH_OUTPUT

        repo = event.repo or ""
        if event.type == FOREACH_OUTPUT.name:
            line = FOREACH_OUTPUT.data_of(event)["line"]
            self.lines[repo].append(line)
            if not self.grouped and not self.quiet:
                click.echo(self._prefix(repo) + line)
        elif event.type == FOREACH_FINISHED.name and not self.quiet:
            if self.grouped:
                click.echo("\n".join(self._prefix(repo) + line for line in self.lines[repo]))
            error = FOREACH_FINISHED.data_of(event)["error"]
            if error:
                click.echo(self._prefix(repo) + f"error: {error}", err=True)

    def _prefix(self, repo: str) -> str:
        return click.style(f"{repo:<{self.width}} |", bold=True) + " "


def _print_summary(report: ForeachReport) -> None:
    results = report.results
    failed, skipped = report.failed, report.skipped
    ok = len(results) - len(failed) - len(skipped)
    noun = "repo" if len(results) == 1 else "repos"
    if report.ok:
        click.echo(f"{len(results)} {noun}: all exited 0", err=True)
        return
    parts = [f"{ok} ok", f"{len(failed)} failed"] + ([f"{len(skipped)} skipped"] if skipped else [])
    click.echo(f"{len(results)} {noun}: " + ", ".join(parts), err=True)
    for result in failed:
        why = result.error or f"exit {result.returncode}"
        click.echo(f"  {result.name}: {why}", err=True)
    if skipped:
        names = ", ".join(r.name for r in skipped)
        click.echo(f"  not started after the first failure: {names}", err=True)
        click.echo("  (pass --keep-going to run every repo)", err=True)


def _json(report: ForeachReport, lines: dict[str, list[str]]) -> dict[str, object]:
    return {
        "ok": report.ok,
        "results": [{**r.to_dict(), "output": lines.get(r.name, [])} for r in report.results],
    }
