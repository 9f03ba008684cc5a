"""Writing a finished run into a vault: its note, its repos' notes, the day's note.

Folders are relative to the vault (``nestr/runs``, ``nestr/repos``; the daily note at the
vault's root by default, as Obsidian's Daily notes plugin keeps it, named ``YYYY-MM-DD``).
Each write touches only nestr's block and front matter keys, so writing the same run again
(a replayed event, a resumed run) changes its lines in place and adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nestr.bridges.obsidian.runnotes import (
    RunSummary,
    run_body,
    run_line,
    run_properties,
    run_title,
    upsert_line,
)
from nestr.bridges.obsidian.vault import Vault

RUN_BLOCK = "run"
RUNS_BLOCK = "runs"


@dataclass(frozen=True)
class JournalLayout:
    """Where a run's notes go in the vault."""

    folder: str = "nestr"  # runs in FOLDER/runs, repos in FOLDER/repos
    daily_folder: str = ""  # the daily notes' folder ("" = the vault's root)
    recent_runs: int = 20  # runs a repo's note lists


@dataclass(frozen=True)
class Written:
    """The notes one run was written to."""

    run: Path
    repos: tuple[Path, ...]
    daily: Path


def write_run(vault: Vault, run: RunSummary, layout: JournalLayout = JournalLayout()) -> Written:
    """Write ``run``'s note, add it to each of its repos' notes and to the day's note."""
    run_link = vault.link(f"{layout.folder}/runs", run_title(run))
    repo_links = {name: vault.link(f"{layout.folder}/repos", name) for name in run.repos}
    repos = tuple(
        _list_run(
            vault, link, run_line(run, run_link, with_date=True), layout.recent_runs, {"repo": name}
        )
        for name, link in repo_links.items()
    )
    daily_link = vault.link(layout.daily_folder, f"{run.started_at:%Y-%m-%d}")
    daily = _list_run(vault, daily_link, run_line(run, run_link, with_date=False), None, None)
    # the run's note last: once it exists, every note it links to does
    note = vault.write(run_link, RUN_BLOCK, run_body(run, repo_links), run_properties(run))
    return Written(note, repos, daily)


def _list_run(
    vault: Vault, link: str, line: str, keep: int | None, properties: dict[str, str] | None
) -> Path:
    newest_first = keep is not None  # a repo's note: newest on top; the day's: in time order
    body = upsert_line(vault.block(link, RUNS_BLOCK), line, newest_first=newest_first, keep=keep)
    return vault.write(link, RUNS_BLOCK, body, properties)
