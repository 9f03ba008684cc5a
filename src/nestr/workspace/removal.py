"""Removing workspaces: ``workspace rm`` and ``workspace gc`` (expired ephemeral workspaces).

A workspace is removed only when it holds no work that exists nowhere else: in a repo, tracked
changes, untracked files that are not ignored (a new file never ``git add``-ed is the most common
uncommitted work; ignored files are build output and may go), stashes, or commits that no
remote-tracking branch or tag contains; outside the repos, any file nestr did not make. Otherwise
it is kept and the reason is reported, unless the caller forces it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from nestr.fanout import fan_out
from nestr.git.runner import run_git
from nestr.workspace.record import RECORD_DIR
from nestr.workspace.registry import RegistryEntry, registered, unregister


@dataclass(frozen=True)
class Removal:
    """What happened to one workspace: removed, or kept and why."""

    id: str
    root: str
    removed: bool
    reasons: tuple[str, ...] = ()  # "<repo path>: uncommitted changes", ...

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "root": self.root,
            "removed": self.removed,
            "reasons": list(self.reasons),
        }


async def local_work(repo: Path, *, timeout: float = 60.0) -> list[str]:
    """Why deleting ``repo`` would lose work (empty when it would not)."""
    if not (repo / ".git").exists():
        return []
    reasons = []
    status = await run_git(["status", "--porcelain", "-z"], cwd=repo, timeout=timeout)
    entries = [entry for entry in status.stdout.split("\0") if entry]
    untracked = [entry[3:] for entry in entries if entry.startswith("?? ")]
    if len(untracked) < len(entries):
        reasons.append("uncommitted changes")
    if untracked:
        reasons.append(f"untracked files ({_some(untracked)})")
    args = ["rev-list", "-n1", "HEAD", "--branches", "--not", "--remotes", "--tags"]
    if (await run_git(args, cwd=repo, timeout=timeout, check=False)).stdout.strip():
        reasons.append("commits that are not pushed")
    if (repo / ".git" / "refs" / "stash").exists() or (
        repo / ".git" / "logs" / "refs" / "stash"
    ).exists():
        reasons.append("stashed changes")
    return reasons


def _some(paths: list[str], shown: int = 3) -> str:
    more = f", and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more


def files_outside_repos(root: Path, repos: Sequence[str]) -> list[str]:
    """What lies in the workspace outside its repos and ``.nestr``: nestr made none of it.

    Directories that only lead to repos are looked into; empty directories do not count.
    """
    own = {PurePosixPath(rel).parts for rel in repos} | {(RECORD_DIR,)}
    on_the_way = {parts[:i] for parts in own for i in range(1, len(parts))}
    found: list[str] = []

    def walk(directory: Path, parts: tuple[str, ...]) -> None:
        for child in sorted(directory.iterdir()):
            here = (*parts, child.name)
            is_dir = child.is_dir() and not child.is_symlink()
            if here in own or (is_dir and not any(child.iterdir())):
                continue
            if here in on_the_way and is_dir:
                walk(child, here)
            else:
                found.append("/".join(here))

    walk(root, ())
    return found


async def workspace_work(entry: RegistryEntry, *, jobs: int = 8) -> list[str]:
    """Every reason, across the workspace's repos and around them, not to delete it."""
    stray = files_outside_repos(entry.root, entry.repos) if entry.root.is_dir() else []
    reasons = [f"{_some(stray)}: not in any repo"] if stray else []
    dirs = [d for d in entry.repo_dirs() if d.exists()]
    outcomes = await fan_out(dirs, local_work, jobs=jobs)
    for outcome in outcomes:
        rel = outcome.item.relative_to(entry.root).as_posix()
        if outcome.error is not None:
            reasons.append(f"{rel}: cannot inspect ({outcome.error})")
        reasons += [f"{rel}: {why}" for why in outcome.value or ()]
    return reasons


async def remove_workspace(
    state_dir: Path, entry: RegistryEntry, *, force: bool = False
) -> Removal:
    """Delete the workspace directory and its registration, unless it holds local work."""
    reasons = [] if force else await workspace_work(entry)
    if reasons:
        return Removal(entry.id, str(entry.root), removed=False, reasons=tuple(reasons))
    if entry.root.exists():
        shutil.rmtree(entry.root)
    unregister(state_dir, entry.id)
    return Removal(entry.id, str(entry.root), removed=True)


async def gc_workspaces(
    state_dir: Path, *, now: datetime | None = None, force: bool = False
) -> list[Removal]:
    """Remove expired workspaces (same refusal rule); forget registrations whose root is gone."""
    now = now or datetime.now(UTC)
    results = []
    for entry in registered(state_dir):
        if not entry.root.exists():
            unregister(state_dir, entry.id)
            results.append(Removal(entry.id, str(entry.root), True, ("directory already gone",)))
        elif entry.expired(now):
            results.append(await remove_workspace(state_dir, entry, force=force))
        else:
            results.append(Removal(entry.id, str(entry.root), False, _not_expired(entry)))
    return results


def _not_expired(entry: RegistryEntry) -> tuple[str, ...]:
    if entry.expires is None:
        return ("persistent (no expiry)",)
    return (f"expires {entry.expires.isoformat(timespec='seconds')}",)
