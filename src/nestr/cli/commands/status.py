"""``nestr status``: branch, commit, changes, upstream and lock drift of each repo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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
from nestr.cli.table import Cell, render_table, use_color

if TYPE_CHECKING:
    from nestr.workspace.status import RepoStatus, WorkspaceStatus

SHORT = 10  # characters of a commit id shown in the table


@click.command()
@manifest_option
@workspace_option
@group_option
@repo_option
@jobs_option
@json_option
@click.pass_context
def status(
    ctx: click.Context,
    manifest_path: Path | None,
    workspace_dir: Path | None,
    groups: tuple[str, ...],
    repo_names: tuple[str, ...],
    jobs: int | None,
    as_json: bool,
) -> int:
    """Show branch, commit, changes and drift of each repo.

    Exit 0 when every repo could be read (dirty, missing or drifted repos are reported, not
    failures), 1 when git could not read a repo.
    """
    nestr = session(ctx)
    target = nestr.target(
        manifest=manifest_path, workspace=workspace_dir, groups=groups, names=repo_names
    )
    report = nestr.status(target, jobs=jobs)
    if as_json:
        print_json(report.to_dict())
    else:
        _print_table(report)
    return 0 if report.ok else 1


def _print_table(report: WorkspaceStatus) -> None:
    columns = ["repo", "path", "branch", "commit", "revision", "changes", "upstream", "lock"]
    if report.lock_file is None:
        columns.pop()  # no nestr.lock beside the manifest: nothing to compare with
    rows = [_row(repo)[: len(columns)] for repo in report.repos]
    click.echo(render_table(columns, rows, color=use_color()))
    click.echo(_summary(report))


def _row(repo: RepoStatus) -> tuple[Cell, ...]:
    git = repo.git
    name, path, revision = Cell(repo.name), Cell(repo.path), Cell(repo.revision)
    if repo.state == "missing":
        return (name, path, Cell("not assembled", "yellow"), Cell(""), revision)
    if git is None:
        error = (repo.error or "cannot read").splitlines()[0]
        return (name, path, Cell(f"error: {error}", "red"), Cell(""), revision)
    branch = Cell(git.branch) if git.branch else Cell("(detached)", "magenta")
    commit = Cell(git.commit[:SHORT] if git.commit else "(no commits)")
    return (name, path, branch, commit, revision, _changes(repo), _upstream(repo), _lock(repo))


def _changes(repo: RepoStatus) -> Cell:
    assert repo.git is not None
    changes = repo.git.changes
    if not changes.dirty:
        return Cell("clean", "green")
    parts = [
        f"{count} {label}"
        for count, label in (
            (changes.staged, "staged"),
            (changes.unstaged, "unstaged"),
            (changes.untracked, "untracked"),
            (changes.conflicted, "conflicted"),
        )
        if count
    ]
    return Cell(", ".join(parts), "yellow")


def _upstream(repo: RepoStatus) -> Cell:
    git = repo.git
    assert git is not None
    if git.upstream is None:
        return Cell("-")
    if git.ahead is None or git.behind is None:
        return Cell(f"{git.upstream} (gone)", "red")
    if git.ahead == git.behind == 0:
        return Cell(git.upstream)
    return Cell(f"{git.upstream} +{git.ahead} -{git.behind}", "yellow")


def _lock(repo: RepoStatus) -> Cell:
    state = repo.lock_state
    if state is None:
        return Cell("")
    if state == "match":
        return Cell("locked", "green")
    if state == "unlocked":
        return Cell("not in lock", "yellow")
    return Cell(f"drift: locked {(repo.locked_commit or '')[:SHORT]}", "red")


def _summary(report: WorkspaceStatus) -> str:
    repos = report.repos
    counts = {
        "dirty": sum(1 for r in repos if r.git is not None and r.git.changes.dirty),
        "not assembled": sum(1 for r in repos if r.state == "missing"),
        "drifted from the lock": sum(1 for r in repos if r.lock_state == "drift"),
        "unreadable": sum(1 for r in repos if r.state == "error"),
    }
    details = ", ".join(f"{n} {label}" for label, n in counts.items() if n)
    noun = "repo" if len(repos) == 1 else "repos"
    return f"{len(repos)} {noun}" + (f": {details}" if details else ": all clean")
