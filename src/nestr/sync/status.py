"""Drift of managed files: which ones changed since nestr last wrote them.

Local only and cheap: each managed file (or managed block) is hashed as a git blob after line
endings are normalised and compared with the blob id in ``.nestr/sync.lock``. No rule is read,
so status works in any clone that carries the lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from nestr.errors import UsageError
from nestr.manifest.model import Manifest
from nestr.sync import blocks
from nestr.sync.content import blob_id, normalize
from nestr.sync.lockfile import LockedFile, read_lock
from nestr.workspace.record import Workspace


class Drift(StrEnum):
    """How a managed file compares with what nestr last wrote."""

    CLEAN = "clean"
    MODIFIED = "modified"
    MISSING = "missing"


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

    @property
    def drifted(self) -> list[FileStatus]:
        return [f for f in self.files if f.state is not Drift.CLEAN]

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "path": str(self.directory),
            "synced": self.synced,
            "files": [f.to_dict() for f in self.files],
        }


def sync_status(
    manifest: Manifest,
    workspace: Workspace,
    *,
    groups: Iterable[str] = (),
    names: Iterable[str] = (),
) -> list[RepoStatus]:
    """Drift of every managed file in the selected repos that are checked out."""
    try:
        specs = manifest.select(groups=groups, names=names)
    except KeyError as exc:
        raise UsageError(f"no repo named {exc.args[0]} in the manifest") from None
    out = []
    for spec in specs:
        directory = workspace.repo_dir(spec)
        if directory.is_dir():
            out.append(repo_status(spec.name, directory))
    return out


def repo_status(name: str, directory: Path) -> RepoStatus:
    """Drift of the managed files of the repo at ``directory``."""
    lock = read_lock(directory)
    files = tuple(_file_status(directory, p, e) for p, e in sorted(lock.files.items()))
    synced = (directory / ".nestr" / "sync.lock").is_file()
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
    return status(Drift.CLEAN if blob_id(data) == entry.blob else Drift.MODIFIED)
