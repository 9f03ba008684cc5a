"""``nestr sync plan|apply|status``: shared files across the repos of a workspace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from nestr.cli.context import session
from nestr.cli.options import (
    group_option,
    jobs_option,
    manifest_option,
    repo_option,
    workspace_option,
)
from nestr.cli.render import json_option, print_json

if TYPE_CHECKING:
    from collections.abc import Mapping

    from nestr.errors import NestrError
    from nestr.sync.model import RepoPlan
    from nestr.sync.results import SyncRepoResult

F = TypeVar("F", bound=Callable[..., Any])
_QUIET_ACTIONS = {"unchanged"}


def _common(func: F) -> F:
    for option in (json_option, jobs_option, repo_option, group_option, manifest_option):
        func = option(func)
    return workspace_option(func)


def _target(
    ctx: click.Context,
    workspace_dir: Path | None,
    manifest_path: Path | None,
    groups: tuple[str, ...],
    repo_names: tuple[str, ...],
    action: str | None = None,
) -> object:
    """The workspace, its full manifest (sync rules included) and the selected repos (an
    opaque target of the session: see :mod:`nestr.cli.surface`; ``action``: the mutating
    action they are for)."""
    return session(ctx).target(
        manifest=manifest_path,
        workspace=workspace_dir,
        groups=groups,
        names=repo_names,
        repos_only=False,
        action=action,
    )


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
    target = _target(ctx, workspace_dir, manifest_path, groups, repo_names)
    result = asyncio.run(session(ctx).sync_plan(target, adopt=adopt, jobs=jobs))
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
    from nestr.sync import ApplyOptions, ConflictMode
    from nestr.sync.apply import DEFAULT_MESSAGE

    target = _target(ctx, workspace_dir, manifest_path, groups, repo_names, "sync.apply")
    options = ApplyOptions(
        conflicts=ConflictMode(conflicts),
        commit=commit,
        branch=branch,
        message=message or DEFAULT_MESSAGE,
        push=push,
    )
    # durable, so `nestr events` (and every watcher) sees what sync changed
    result = asyncio.run(session(ctx).sync_apply(target, options=options, adopt=adopt, jobs=jobs))
    if as_json:
        print_json(result.to_dict())
    else:
        for repo in result.repos:
            _echo_repo(repo.plan, error=repo.error, saved=repo.saved)
            _echo_commit(repo)
        markers = sum(r.markers_written for r in result.repos if r.error is None)
        _echo_summary(result.plan.counts(), result.conflicts, mode=conflicts, markers=markers)
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
    from nestr.sync.model import exit_code_for
    from nestr.sync.status import LABELS, Drift

    target = _target(ctx, workspace_dir, manifest_path, groups, repo_names)
    repos = session(ctx).sync_status(target)
    code = exit_code_for([r.error for r in repos], 0)
    if as_json:
        print_json({"repos": [r.to_dict() for r in repos]})
        return code
    for repo in repos:
        if repo.error is not None:
            _echo_error(repo.repo, repo.error)
        elif not repo.synced:
            click.echo(f"{repo.repo}: never synced")
        else:
            found = repo.counts()
            counts = ", ".join(f"{found[s]} {LABELS[s]}" for s in Drift if s in found)
            click.echo(f"{repo.repo}: {len(repo.files)} managed ({counts or 'none'})")
            for item in repo.drifted:
                click.echo(f"  {LABELS[item.state]:<16} {item.path}")
    return code


def _echo_repo(
    repo: RepoPlan,
    *,
    diff: bool = False,
    error: NestrError | None = None,
    saved: Mapping[str, str] | None = None,
) -> None:
    error = error or repo.error
    if error is not None:
        _echo_error(repo.repo, error)
        return
    shown = [f for f in repo.files if str(f.action) not in _QUIET_ACTIONS]
    quiet = len(repo.files) - len(shown)
    click.echo(f"{repo.repo}: {len(shown)} to do, {quiet} unchanged")
    for item in shown:
        notes = [item.detail] if item.detail else []
        if item.action == "merge":
            notes.append("local edits kept")
        if saved and item.path in saved:
            notes.append(f"saved: git cat-file -p {saved[item.path]}")
        detail = f"  ({'; '.join(notes)})" if notes else ""
        click.echo(f"  {item.action:<13} {item.path}{detail}")
        if diff:
            click.echo(item.diff(), nl=False)


def _echo_error(name: str, error: NestrError) -> None:
    click.echo(f"{name}: error: {error.message}")
    if error.hint:
        click.echo(f"  hint: {error.hint}")


def _echo_commit(repo: SyncRepoResult) -> None:
    if repo.commit:
        where = f" on {repo.branch}" if repo.branch else ""
        pushed = ", pushed" if repo.pushed else ""
        click.echo(f"  committed {repo.commit[:12]}{where}{pushed}")
    if repo.edits_committed:
        paths = ", ".join(repo.edits_committed)
        click.echo(f"  the commit includes the uncommitted local edits merged into: {paths}")
    if repo.not_committed:
        paths = ", ".join(repo.not_committed)
        click.echo(f"  not committed (changed again after nestr wrote it): {paths}")


def _echo_summary(
    counts: dict[str, int], conflicts: int, *, mode: str | None = None, markers: int = 0
) -> None:
    """The totals, and what to do next about conflicts (``mode``: how apply treated them)."""
    text = ", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "nothing to sync"
    click.echo(f"total: {text}")
    untouched = conflicts - markers
    if markers:
        click.echo(
            f"{markers} conflict(s) written with markers (<<<<<<< repo ... >>>>>>> source): "
            "edit each file to keep what you want, remove the markers, and commit"
        )
    if not untouched:
        return
    if mode == "markers":
        click.echo(
            f"{untouched} conflict(s) could not take markers (binary, or base missing) and were "
            "left untouched: resolve them by hand"
        )
    else:
        left = " left untouched" if mode else ""
        click.echo(
            f"{untouched} conflict(s){left}: resolve them by hand, or apply with "
            "--conflicts=markers to write both sides into the file"
        )
