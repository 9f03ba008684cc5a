"""Drift of managed files: which ones changed since nestr last wrote them.

Local only and cheap: each managed file (or managed block) is hashed as a git blob after line
endings are normalised and compared with the blob id in ``.nestr/sync.lock``. No rule is read,
so status works in any clone that carries the lock. A file that differs holds local edits on top
of what nestr wrote (after a clean merge, too), conflict markers left for the user, or is gone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from nestr.errors import NestrError
from nestr.manifest.model import Manifest
from nestr.sync import blocks
from nestr.sync.content import blob_id, normalize
from nestr.sync.lockfile import LockedFile, lock_file, read_lock
from nestr.workspace.record import Workspace


class Drift(StrEnum):
    """How a managed file compares with what nestr last wrote."""

    CLEAN = "clean"  # exactly what nestr wrote
    MODIFIED = "modified"  # local edits on top of it (kept, and merged at the next sync)
    CONFLICT = "conflict"  # holds the conflict markers `--conflicts=markers` wrote
    MISSING = "missing"  # deleted in the repo (not recreated)


LABELS = {
    Drift.CLEAN: "clean",
    Drift.MODIFIED: "local edits",
    Drift.CONFLICT: "conflict markers",
    Drift.MISSING: "deleted",
}
_MARKERS = (b"\n<<<<<<< repo\n", b"\n>>>>>>> source\n")


@dataclass(frozen=True)
class FileStatus:
    """One managed file and how it compares with what nestr last wrote."""

    path: str
    state: Drift
    policy: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "state": str(self.state),
            "policy": self.policy,
            "source": self.source,
        }


@dataclass(frozen=True)
class RepoStatus:
    """The managed files of one repo (none when it was never synced)."""

    repo: str
    directory: Path
    files: tuple[FileStatus, ...]
    synced: bool  # the repo has a sync lock
    error: NestrError | None = None  # its sync state cannot be read

    @property
    def drifted(self) -> list[FileStatus]:
        return [f for f in self.files if f.state is not Drift.CLEAN]

    def counts(self) -> dict[Drift, int]:
        return dict(Counter(f.state for f in self.files))

    def to_dict(self) -> dict[str, Any]:
        error = self.error
        return {
            "repo": self.repo,
            "path": str(self.directory),
            "synced": self.synced,
            "files": [f.to_dict() for f in self.files],
            "error": None
            if error is None
            else {"message": error.message, "hint": error.hint, "exit_code": error.exit_code},
        }


def sync_status(
    manifest: Manifest,
    workspace: Workspace,
    *,
    groups: Iterable[str] = (),
    names: Iterable[str] = (),
) -> list[RepoStatus]:
    """Drift of every managed file in the selected repos that are checked out."""
    specs = manifest.select(groups=groups, names=names)
    out = []
    for spec in specs:
        directory = workspace.repo_dir(spec)
        if not directory.is_dir():
            continue
        try:
            out.append(repo_status(spec.name, directory))
        except NestrError as exc:
            out.append(RepoStatus(spec.name, directory, (), synced=False, error=exc))
    return out


def repo_status(name: str, directory: Path) -> RepoStatus:
    """Drift of the managed files of the repo at ``directory``."""
    lock = read_lock(directory)
    files = tuple(_file_status(directory, p, e) for p, e in sorted(lock.files.items()))
    synced = lock_file(directory).is_file()
    return RepoStatus(name, directory, files, synced)


def _file_status(directory: Path, dest: str, entry: LockedFile) -> FileStatus:
    def status(state: Drift) -> FileStatus:
        return FileStatus(dest, state, entry.policy, entry.source)

    try:
        data = normalize((directory / dest).read_bytes())
    except (FileNotFoundError, IsADirectoryError):
        return status(Drift.MISSING)
    if entry.block is not None:
        split = blocks.find_block(data.decode("utf-8", "surrogateescape"), dest, entry.block)
        if split is None:
            return status(Drift.MISSING)
        data = split.body.encode("utf-8", "surrogateescape")
    if blob_id(data) == entry.blob:
        return status(Drift.CLEAN)
    conflicted = all(marker in data or data.startswith(marker[1:]) for marker in _MARKERS)
    return status(Drift.CONFLICT if conflicted else Drift.MODIFIED)
