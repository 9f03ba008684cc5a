"""Removing workspaces: ``workspace rm`` and ``workspace gc`` (expired ephemeral workspaces).

A workspace is removed only when none of its repos holds work that exists nowhere else:
tracked changes, stashes, or commits that no remote-tracking branch or tag contains. Otherwise
it is kept and the reason is reported, unless the caller forces it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nestr.fanout import fan_out
from nestr.git.runner import run_git
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
    status = await run_git(
        ["status", "--porcelain", "--untracked-files=no"], cwd=repo, timeout=timeout
    )
    if status.stdout.strip():
        reasons.append("uncommitted changes")
    args = ["rev-list", "-n1", "HEAD", "--branches", "--not", "--remotes", "--tags"]
    if (await run_git(args, cwd=repo, timeout=timeout, check=False)).stdout.strip():
        reasons.append("commits that are not pushed")
    if (repo / ".git" / "refs" / "stash").exists() or (
        repo / ".git" / "logs" / "refs" / "stash"
    ).exists():
        reasons.append("stashed changes")
    return reasons


async def workspace_work(entry: RegistryEntry, *, jobs: int = 8) -> list[str]:
    """Every reason, across the workspace's repos, not to delete it."""
    dirs = [d for d in entry.repo_dirs() if d.exists()]
    outcomes = await fan_out(dirs, local_work, jobs=jobs)
    reasons = []
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
