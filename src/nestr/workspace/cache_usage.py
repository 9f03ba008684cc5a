"""Which mirrors the registered workspaces borrow from: ``cache list`` and ``cache gc``.

A workspace repo borrows objects through ``.git/objects/info/alternates``; a mirror named there
by any registered workspace is in use and is never removed. ``gc`` also skips a mirror another
process holds locked (an assembly cloning from it right now). A repo cloned from a shallow
mirror borrows nothing (git copies objects from a shallow source), so it holds no mirror.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nestr.git.filelock import try_file_lock
from nestr.git.mirror import MIRRORS_DIR, Mirror
from nestr.workspace.registry import registered
from nestr.workspace.repo_git import borrowed_from


@dataclass(frozen=True)
class MirrorUsage:
    """One mirror of the cache and the workspaces that borrow from it."""

    path: Path
    url: str | None
    size: int  # bytes on disk
    last_fetch: datetime | None
    borrowers: tuple[str, ...]  # workspace ids
    depth: int | None = None  # a shallow mirror's depth (0: unrecorded); None when full

    def to_dict(self) -> dict[str, Any]:
        return {
            "mirror": str(self.path),
            "url": self.url,
            "size": self.size,
            "last_fetch": self.last_fetch.isoformat() if self.last_fetch else None,
            "depth": self.depth,
            "borrowed_by": len(self.borrowers),
            "workspaces": list(self.borrowers),
        }


@dataclass(frozen=True)
class MirrorRemoval:
    """A mirror ``cache gc`` removed or kept, and why it kept it."""

    path: Path
    url: str | None
    removed: bool
    reason: str | None = None
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "mirror": str(self.path),
            "url": self.url,
            "removed": self.removed,
            "reason": self.reason,
            "size": self.size,
        }


def mirror_paths(cache_dir: Path) -> list[Path]:
    root = cache_dir / MIRRORS_DIR
    return sorted(p for p in root.glob("*.git") if p.is_dir()) if root.is_dir() else []


def borrowers(state_dir: Path) -> dict[Path, set[str]]:
    """Mirror path → ids of registered workspaces with a repo borrowing its objects."""
    found: dict[Path, set[str]] = {}
    for entry in registered(state_dir):
        for repo in _repos_of(entry.root, entry.repo_dirs()):
            for objects in borrowed_from(repo):
                found.setdefault(objects.parent, set()).add(entry.id)
    return found


def _repos_of(root: Path, known: Iterable[Path]) -> list[Path]:
    """The recorded repo dirs, plus any other repo found under the root (moved or added)."""
    repos = {d for d in known if (d / ".git").exists()}
    if root.is_dir():
        for directory, subdirs, _files in os.walk(root):
            if ".git" in subdirs:
                repos.add(Path(directory))
            subdirs[:] = [s for s in subdirs if s not in {".git", ".nestr"}]
    return sorted(repos)


def list_mirrors(cache_dir: Path, state_dir: Path) -> list[MirrorUsage]:
    """Every mirror with its URL, size, last fetch and borrowing workspaces."""
    using = borrowers(state_dir)
    return [_usage(path, using.get(path.resolve(), set())) for path in mirror_paths(cache_dir)]


def gc_mirrors(cache_dir: Path, state_dir: Path, *, dry_run: bool = False) -> list[MirrorRemoval]:
    """Remove mirrors no registered workspace borrows from and no process is using."""
    using = borrowers(state_dir)
    results = []
    for path in mirror_paths(cache_dir):
        usage = _usage(path, using.get(path.resolve(), set()))
        if usage.borrowers:
            reason = f"borrowed by {len(usage.borrowers)} workspace(s)"
            results.append(MirrorRemoval(path, usage.url, False, reason, usage.size))
            continue
        results.append(_remove(path, usage, dry_run=dry_run))
    return results


def _remove(path: Path, usage: MirrorUsage, *, dry_run: bool) -> MirrorRemoval:
    lock = Mirror(usage.url or "", path).lock_path
    with try_file_lock(lock) as taken:
        if not taken:
            return MirrorRemoval(path, usage.url, False, "in use by another process", usage.size)
        if not dry_run:
            shutil.rmtree(path)
    # The lock file stays: unlinking it would let a waiter on the old inode and a newcomer on a
    # new one both believe they hold the lock.
    return MirrorRemoval(path, usage.url, True, "dry run" if dry_run else None, usage.size)


def _usage(path: Path, users: set[str]) -> MirrorUsage:
    mirror = Mirror("", path)
    fetched = mirror.last_fetch()
    return MirrorUsage(
        path=path,
        url=_url(mirror),
        size=_size(path),
        last_fetch=datetime.fromtimestamp(fetched, UTC) if fetched is not None else None,
        borrowers=tuple(sorted(users)),
        depth=mirror.shallow_depth(),
    )


def _url(mirror: Mirror) -> str | None:
    try:
        return str(json.loads(mirror.meta_path.read_text(encoding="utf-8"))["url"])
    except (OSError, ValueError, KeyError):
        return None


def _size(path: Path) -> int:
    total = 0
    for directory, _subdirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(directory) / name).lstat().st_size
            except OSError:
                continue
    return total
