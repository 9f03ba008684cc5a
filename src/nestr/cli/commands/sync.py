"""``nestr sync plan|apply|status``: shared files across the repos of a workspace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from nestr.cli.context import app
from nestr.cli.options import (
    group_option,
    jobs_option,
    manifest_option,
    repo_option,
    workspace_and_manifest,
    workspace_option,
)
from nestr.cli.render import json_option, print_json

if TYPE_CHECKING:
    from nestr.manifest.model import Manifest
    from nestr.sync.model import RepoPlan
    from nestr.workspace.record import Workspace

F = TypeVar("F", bound=Callable[..., Any])
_QUIET_ACTIONS = {"unchanged"}


def _common(func: F) -> F:
    for option in (json_option, jobs_option, repo_option, group_option, manifest_option):
        func = option(func)
    return workspace_option(func)


def _load(
    ctx: click.Context, workspace_dir: Path | None, manifest_path: Path | None
) -> tuple[Workspace, Manifest]:
    return workspace_and_manifest(workspace_dir, manifest_path, app(ctx).cwd)


@click.group()
def sync() -> None:
    """Plan and apply shared files across repos (see docs/sync.md)."""


@sync.command()
@_common
@click.option("--diff", "show_diff", is_flag=True, help="Show a unified diff of every change.")
@click.option("--adopt", is_flag=True, help="Plan as if apply --adopt: merge into unmanaged files.")
@click.pass_context
def plan(
    ctx: click.Context,
    workspace_dir: Path | None,
    manifest_path: Path | None,
    groups: tuple[str, ...],
    repo_names: tuple[str, ...],
    jobs: int | None,
    as_json: bool,
    show_diff: bool,
    adopt: bool,
) -> int:
    """Show what sync would do to every file; exit 3 when something conflicts."""
    from nestr.sync import plan_sync

    settings = app(ctx).config().settings
    workspace, manifest = _load(ctx, workspace_dir, manifest_path)
    result = asyncio.run(
        plan_sync(
            manifest,
            workspace,
            groups=groups,
            names=repo_names,
            adopt=adopt,
            jobs=jobs or settings.jobs,
            timeout=settings.git.timeout,
        )
    )
    if as_json:
        print_json(result.to_dict(diff=show_diff))
    else:
        for repo in result.repos:
            _echo_repo(repo, diff=show_diff)
        _echo_summary(result.counts(), result.conflicts)
    return result.exit_code()


@sync.command()
@_common
@click.option("--commit", is_flag=True, help="Commit the files and the lock (one commit per repo).")
@click.option("--branch", metavar="NAME", help="Commit on a new branch NAME made from HEAD.")
@click.option("--message", "message", metavar="MSG", help="Commit message.")
@click.option("--push", is_flag=True, help="Push the branch to origin (needs --commit).")
@click.option(
    "--conflicts",
    type=click.Choice(["skip", "markers"]),
    default="skip",
    show_default=True,
    help="Leave conflicting files untouched, or write them with conflict markers.",
)
@click.option("--adopt", is_flag=True, help="Take over existing files nestr never wrote (merge).")
@click.pass_context
def apply(
    ctx: click.Context,
    workspace_dir: Path | None,
    manifest_path: Path | None,
    groups: tuple[str, ...],
    repo_names: tuple[str, ...],
    jobs: int | None,
    as_json: bool,
    commit: bool,
    branch: str | None,
    message: str | None,
    push: bool,
    conflicts: str,
    adopt: bool,
) -> int:
    """Write shared files; merge local edits; exit 3 when conflicts are left."""
    from nestr.events import EventBus
    from nestr.events.log import open_event_log
    from nestr.sync import ApplyOptions, ConflictMode, apply_sync
    from nestr.sync.apply import DEFAULT_MESSAGE

    settings = app(ctx).config().settings
    workspace, manifest = _load(ctx, workspace_dir, manifest_path)
    options = ApplyOptions(
        conflicts=ConflictMode(conflicts),
        commit=commit,
        branch=branch,
        message=message or DEFAULT_MESSAGE,
        push=push,
    )
    # durable, so `nestr events` (and every watcher) sees what sync changed
    log = open_event_log(settings.state_dir)
    try:
        result = asyncio.run(
            apply_sync(
                manifest,
                workspace,
                groups=groups,
                names=repo_names,
                adopt=adopt,
                options=options,
                jobs=jobs or settings.jobs,
                timeout=settings.git.timeout,
                bus=EventBus(sink=log),
            )
        )
    finally:
        log.close()
    if as_json:
        print_json(result.to_dict())
    else:
        for repo in result.repos:
            _echo_repo(repo.plan, error=repo.error)
            if repo.commit:
                where = f" on {repo.branch}" if repo.branch else ""
                pushed = ", pushed" if repo.pushed else ""
                click.echo(f"  committed {repo.commit[:12]}{where}{pushed}")
        _echo_summary(result.plan.counts(), result.conflicts)
    return result.exit_code()


@sync.command()
@_common
@click.pass_context
def status(
    ctx: click.Context,
    workspace_dir: Path | None,
    manifest_path: Path | None,
    groups: tuple[str, ...],
    repo_names: tuple[str, ...],
    jobs: int | None,
    as_json: bool,
) -> int:
    """Show which managed files changed since they were last synced."""
    from nestr.sync import sync_status

    workspace, manifest = _load(ctx, workspace_dir, manifest_path)
    repos = sync_status(manifest, workspace, groups=groups, names=repo_names)
    if as_json:
        print_json({"repos": [r.to_dict() for r in repos]})
        return 0
    for repo in repos:
        if not repo.synced:
            click.echo(f"{repo.repo}: never synced")
            continue
        drifted = repo.drifted
        click.echo(f"{repo.repo}: {len(repo.files)} managed, {len(drifted)} drifted")
        for item in drifted:
            click.echo(f"  {item.state:<9} {item.path}")
    return 0


def _echo_repo(repo: RepoPlan, *, diff: bool = False, error: Exception | None = None) -> None:
    error = error or repo.error
    if error is not None:
        click.echo(f"{repo.repo}: error: {error}")
        return
    shown = [f for f in repo.files if str(f.action) not in _QUIET_ACTIONS]
    quiet = len(repo.files) - len(shown)
    click.echo(f"{repo.repo}: {len(shown)} to do, {quiet} unchanged")
    for item in shown:
        detail = f"  ({item.detail})" if item.detail else ""
        click.echo(f"  {item.action:<13} {item.path}{detail}")
        if diff:
            click.echo(item.diff(), nl=False)


def _echo_summary(counts: dict[str, int], conflicts: int) -> None:
    text = ", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "nothing to sync"
    click.echo(f"total: {text}")
    if conflicts:
        click.echo(f"{conflicts} conflict(s): resolve them, or apply with --conflicts=markers")
