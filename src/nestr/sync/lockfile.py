"""``.nestr/sync.lock``: the sync state a target repo carries with it.

A small JSON file, committed beside the synced files, with sorted keys and no timestamps so an
unchanged sync leaves it byte-for-byte the same. It records each source and its revision, a hash
of the variables, and per file the git blob id of the LF-normalised content nestr rendered (the
base of the next 3-way merge) and the policy.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nestr.errors import InputError, SourceLocation

LOCK_PATH = ".nestr/sync.lock"
LOCK_VERSION = 1


@dataclass(frozen=True)
class LockedFile:
    """What nestr last wrote to one destination."""

    blob: str  # git blob id of the LF-normalised rendered source (the merge base)
    source: str  # source name
    path: str  # path in the source
    policy: str
    mode: int | None = None
    delete: bool = False
    block: str | None = None  # managed-block id

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "blob": self.blob,
            "source": self.source,
            "path": self.path,
            "policy": self.policy,
        }
        if self.mode is not None:
            out["mode"] = f"0{self.mode:o}"
        if self.delete:
            out["delete"] = True
        if self.block is not None:
            out["block"] = self.block
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LockedFile:
        mode = raw.get("mode")
        return cls(
            blob=str(raw["blob"]),
            source=str(raw["source"]),
            path=str(raw["path"]),
            policy=str(raw["policy"]),
            mode=int(str(mode), 8) if mode is not None else None,
            delete=bool(raw.get("delete", False)),
            block=raw.get("block"),
        )


@dataclass(frozen=True)
class SyncLock:
    """The whole lock of one target repo."""

    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    vars_hash: str | None = None
    files: Mapping[str, LockedFile] = field(default_factory=dict)

    def to_text(self) -> str:
        data = {
            "version": LOCK_VERSION,
            "sources": {k: dict(v) for k, v in self.sources.items()},
            "vars": self.vars_hash,
            "files": {k: v.to_dict() for k, v in self.files.items()},
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_text(cls, text: str) -> SyncLock:
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("version") != LOCK_VERSION:
            raise ValueError(f"unsupported lock version {raw.get('version')!r}")
        return cls(
            sources=dict(raw.get("sources") or {}),
            vars_hash=raw.get("vars"),
            files={k: LockedFile.from_dict(v) for k, v in (raw.get("files") or {}).items()},
        )


def lock_file(repo: Path) -> Path:
    """``repo/.nestr/sync.lock``, refused when ``.nestr`` or the lock is a link or not plain.

    A repo could commit ``.nestr`` as a symlink leading anywhere (outside the repo, or nowhere):
    nestr never reads or writes its state through one, nor through anything but a plain
    directory and a regular file.
    """
    state = repo / ".nestr"
    for path, kind, plain in (
        (state, "directory", stat.S_ISDIR),
        (state / "sync.lock", "file", stat.S_ISREG),
    ):
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            break
        if plain(mode):
            continue
        name = path.relative_to(repo).as_posix()
        what = f"a symlink (to {path.readlink()})" if stat.S_ISLNK(mode) else f"not a {kind}"
        raise InputError(
            f"{name} in {repo} is {what}: nestr reads and writes a repo's sync state only "
            "in a plain .nestr directory inside it, never through a link",
            hint=f"replace {name} with a plain {kind} (or remove it) and commit that, "
            "or leave the repo out of the sync rules",
        )
    return state / "sync.lock"


def read_lock(repo: Path) -> SyncLock:
    """The repo's lock (empty when it has none); a clear error when it is unreadable."""
    path = lock_file(repo)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return SyncLock()
    try:
        return SyncLock.from_text(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"unreadable sync lock: {exc}",
            location=SourceLocation(file=path),
            hint="restore it from git (`git checkout -- .nestr/sync.lock`)",
        ) from None
