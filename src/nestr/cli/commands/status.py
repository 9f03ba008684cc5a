"""``nestr status``: branch, commit, changes, upstream and lock drift of each repo."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from nestr.cli.commands._target import resolve_target
from nestr.cli.context import app
from nestr.cli.options import (
    group_option,
    jobs_option,
    manifest_option,
    repo_option,
    workspace_option,
)
from nestr.cli.render import json_option, print_json

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
    from nestr.workspace.status import workspace_status

    settings = app(ctx).config().settings
    target = resolve_target(
        ctx,
        manifest_path=manifest_path,
        workspace_dir=workspace_dir,
        groups=groups,
        repo_names=repo_names,
    )
    report = asyncio.run(
        workspace_status(
            target.workspace,
            target.repos,
            manifest=target.manifest,
            jobs=jobs or settings.jobs,
            timeout=settings.git.timeout,
        )
    )
    if as_json:
        print_json(report.to_dict())
    else:
        _print_table(report)
    return 0 if report.ok else 1


def _print_table(report: WorkspaceStatus) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # piped output: do not cut rows at 80 columns
    table = Table(box=None, pad_edge=False, header_style="bold")
    columns = ["repo", "path", "branch", "commit", "revision", "changes", "upstream", "lock"]
    if report.lock_file is None:
        columns.pop()  # no nestr.lock beside the manifest: nothing to compare with
    for column in columns:
        table.add_column(column, no_wrap=column != "changes")
    for repo in report.repos:
        table.add_row(*_row(repo)[: len(columns)])
    console.print(table)
    console.print(_summary(report))


def _row(repo: RepoStatus) -> tuple[str, ...]:
    from rich.markup import escape

    git = repo.git
    if repo.state == "missing":
        return (repo.name, repo.path, "[yellow]not assembled[/]", "", repo.revision, "", "", "")
    if git is None:
        error = escape((repo.error or "cannot read").splitlines()[0])
        return (repo.name, repo.path, f"[red]error: {error}[/]", "", repo.revision, "", "", "")
    branch = escape(git.branch) if git.branch else "[magenta](detached)[/]"
    commit = git.commit[:SHORT] if git.commit else "(no commits)"
    return (
        repo.name,
        repo.path,
        branch,
        commit,
        escape(repo.revision),
        _changes(repo),
        _upstream(repo),
        _lock(repo),
    )


def _changes(repo: RepoStatus) -> str:
    assert repo.git is not None
    changes = repo.git.changes
    if not changes.dirty:
        return "[green]clean[/]"
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
    return "[yellow]" + ", ".join(parts) + "[/]"


def _upstream(repo: RepoStatus) -> str:
    from rich.markup import escape

    git = repo.git
    assert git is not None
    if git.upstream is None:
        return "-"
    if git.ahead is None or git.behind is None:
        return f"{escape(git.upstream)} [red](gone)[/]"
    if git.ahead == git.behind == 0:
        return escape(git.upstream)
    return f"{escape(git.upstream)} [yellow]+{git.ahead} -{git.behind}[/]"


def _lock(repo: RepoStatus) -> str:
    state = repo.lock_state
    if state is None:
        return ""
    if state == "match":
        return "[green]locked[/]"
    if state == "unlocked":
        return "[yellow]not in lock[/]"
    return f"[red]drift: locked {(repo.locked_commit or '')[:SHORT]}[/]"


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
