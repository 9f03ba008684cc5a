"""``nestr assemble``: create or update a workspace from the manifest.

Progress comes from the event bus: a live display on a terminal, plain lines on stderr
otherwise. The result (a table, or ``--json``) goes to stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nestr.cli.context import session
from nestr.cli.options import (
    group_option,
    jobs_option,
    manifest_option,
    parse_duration_flag,
    repo_option,
    workspace_option,
)
from nestr.cli.render import follow_events, json_option, print_json

if TYPE_CHECKING:
    from nestr.events import Event, EventBus
    from nestr.workspace.results import AssemblyResult


def parse_ttl(text: str) -> timedelta:
    """The lifetime ``--ttl`` gives: a duration flag (:func:`parse_duration_flag`)."""
    return timedelta(seconds=parse_duration_flag(text, flag="--ttl"))


@click.command()
@manifest_option
@workspace_option
@click.option("--ephemeral", is_flag=True, help="Create a throwaway workspace under the state dir.")
@click.option(
    "--ttl", metavar="DURATION", help="Lifetime of an --ephemeral workspace (default 8h)."
)
@group_option
@repo_option
@jobs_option
@click.option("--locked", is_flag=True, help="Check out exactly the commits of nestr.lock.")
@click.option("--offline", is_flag=True, help="Never fetch; use only what the cache holds.")
@click.option(
    "--dissociate", is_flag=True, help="Copy objects so the workspace outlives the cache."
)
@click.option("--stash", is_flag=True, help="Stash local changes, update, re-apply them.")
@click.option(
    "--force", is_flag=True, help="Move repos even over local work (changes are stashed)."
)
@json_option
@click.pass_context
def assemble(
    ctx: click.Context,
    manifest_path: Path | None,
    workspace_dir: Path | None,
    ephemeral: bool,
    ttl: str | None,
    groups: tuple[str, ...],
    repo_names: tuple[str, ...],
    jobs: int | None,
    locked: bool,
    offline: bool,
    dissociate: bool,
    stash: bool,
    force: bool,
    as_json: bool,
) -> int:
    """Create or update a workspace from the manifest."""
    if ttl is not None and not ephemeral:
        raise click.UsageError("--ttl needs --ephemeral")
    lifetime = parse_ttl(ttl) if ttl is not None else None
    nestr = session(ctx)
    target = nestr.assembly_target(
        manifest=manifest_path,
        workspace=workspace_dir,
        ephemeral=ephemeral,
        groups=groups,
        names=repo_names,
    )
    with _progress(nestr.bus, len(target.repos)):
        result = asyncio.run(
            nestr.assemble(
                target,
                jobs=jobs,
                locked=locked,
                offline=offline,
                dissociate=dissociate,
                stash=stash,
                force=force,
                ttl=lifetime,
            )
        )
    if as_json:
        print_json(result.to_dict())
    else:
        _summary(result)
    return result.exit_code


class _Lines:
    """Plain progress lines on stderr, one per event (logs and CI)."""

    def __call__(self, event: Event) -> None:
        line = _describe(event)
        if line:
            click.echo(line, err=True)


def _describe(event: Event) -> str | None:
    from nestr.events import catalog as c

    kind = event.type
    if kind == c.REPO_STARTED.name:
        return f"{event.repo}: started ({c.REPO_STARTED.data_of(event)['revision']})"
    if kind == c.REPO_FETCHED.name:
        fetched = c.REPO_FETCHED.data_of(event)
        what = "fetched" if fetched["fetched"] else "cache is fresh"
        return f"{event.repo}: {what} ({fetched['seconds']:.2f}s)"
    if kind in c.REPO_ENDED:
        outcome = c.REPO_CHECKED_OUT.data_of(event)
        commit = (outcome["commit"] or "")[:12]
        extra = f": {outcome['message']}" if outcome["message"] else ""
        return f"{event.repo}: {outcome['status']} {commit}{extra}".rstrip()
    if kind == c.ASSEMBLY_FINISHED.name:
        return f"assembly finished in {c.ASSEMBLY_FINISHED.data_of(event)['seconds']:.2f}s"
    if kind == c.ASSEMBLY_DISCARDED.name:
        discarded = c.ASSEMBLY_DISCARDED.data_of(event)
        return f"removed the ephemeral workspace {discarded['workspace']}: {discarded['reason']}"
    if kind == c.CLONE_FILTER_IGNORED.name:
        ignored = c.CLONE_FILTER_IGNORED.data_of(event)
        names = ", ".join(ignored["repos"])
        return f"warning: {ignored['message']} (filter {ignored['filter']}: {names})"
    return None


class _Live:
    """A live display: an overall bar and one line per repo in progress (on a terminal)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(TextColumn("assembling"), BarColumn(), MofNCompleteColumn())
        self.task = self.progress.add_task("repos", total=total)
        self.total, self.started = total, 0  # a server's target names no repos before the start
        self.active: dict[str, str] = {}
        self.live = Live(self._render(), console=Console(stderr=True), transient=True)

    def _render(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        lines = [Text(f"  {name}: {state}", style="dim") for name, state in self.active.items()]
        return Group(self.progress, *lines)

    def __call__(self, event: Event) -> None:
        from nestr.events import catalog as c

        if event.type == c.CLONE_FILTER_IGNORED.name:  # a warning: printed above the display
            self.live.console.print(_describe(event), markup=False, highlight=False)
            return
        if event.repo is None:
            return
        if event.type in c.REPO_ENDED:
            self.active.pop(event.repo, None)
            self.progress.advance(self.task)
        elif event.type == c.REPO_STARTED.name:
            self.active[event.repo] = "fetching"
            self.started += 1
            if self.started > self.total:
                self.total = self.started
                self.progress.update(self.task, total=self.total)
        else:
            self.active[event.repo] = "checking out"
        self.live.update(self._render())


def _progress(bus: EventBus, total: int) -> contextlib.AbstractContextManager[None]:
    """Show progress while the block runs: live on a terminal, lines otherwise."""
    return follow_events(bus, lambda: _Live(total), _Lines())


def _summary(result: AssemblyResult) -> None:
    width = max((len(r.name) for r in result.repos), default=0)
    for repo in result.repos:
        commit = (repo.commit or "")[:12]
        click.echo(f"{repo.status:<9} {repo.name:<{width}}  {repo.revision}  {commit}".rstrip())
    problems = [r for r in result.repos if not r.ok]
    if problems:
        click.echo("")
        for repo in problems:
            click.echo(f"{repo.name}: {repo.status}: {repo.message}")
            if repo.hint:
                click.echo(f"  hint: {repo.hint}")
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result.counts().items()))
    click.echo(f"workspace {result.workspace} ({counts or 'no repos'}) in {result.seconds:.2f}s")
    if result.discarded:
        click.echo("removed it and its registration: no repo could be assembled")
