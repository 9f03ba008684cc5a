"""The values a sync plan and its application are made of."""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nestr.errors import NestrError
from nestr.sync.content import is_binary
from nestr.sync.lockfile import LockedFile, SyncLock
from nestr.sync.planner import Action, Policy, Record


@dataclass(frozen=True)
class FilePlan:
    """The action for one destination of one repo, with the bytes it would write."""

    path: str  # destination, relative to the repo root
    action: Action
    policy: Policy
    record: Record
    source: str | None = None  # source name
    source_path: str | None = None  # path in the source
    detail: str = ""
    before: bytes | None = None  # the file now (None: missing)
    content: bytes | None = None  # the file after a write; None with DELETE: remove it
    markers: bytes | None = None  # the file with conflict markers (conflict, text only)
    entry: LockedFile | None = None  # the lock entry to store when record is SOURCE
    base: bytes | None = None  # the new base's bytes (LF), stored as a blob
    mode: int | None = None

    @property
    def writes(self) -> bool:
        return self.action in {Action.CREATE, Action.UPDATE, Action.MERGE, Action.DELETE}

    def after(self, *, markers: bool = False) -> bytes | None:
        """The file's bytes once applied (``markers``: conflicts written with markers)."""
        if self.action is Action.CONFLICT and markers and self.markers is not None:
            return self.markers
        return self.content if self.writes else self.before

    def diff(self, *, markers: bool = True) -> str:
        """A unified diff of the change (empty when the file stays as it is).

        For a conflict, ``markers`` shows what ``--conflicts=markers`` would write.
        """
        before, after = self.before, self.after(markers=markers)
        if before == after:
            return ""
        if is_binary(before) or is_binary(after):
            return f"Binary files a/{self.path} and b/{self.path} differ\n"
        old = (before or b"").decode("utf-8", "replace").splitlines(keepends=True)
        new = (after or b"").decode("utf-8", "replace").splitlines(keepends=True)
        lines = difflib.unified_diff(
            old,
            new,
            "/dev/null" if before is None else f"a/{self.path}",
            "/dev/null" if after is None else f"b/{self.path}",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

    def to_dict(self, *, diff: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "action": str(self.action),
            "policy": str(self.policy),
            "source": self.source,
            "source_path": self.source_path,
            "detail": self.detail,
        }
        if diff:
            out["diff"] = self.diff()
        return out


@dataclass(frozen=True)
class RepoPlan:
    """Everything sync would do in one repo (or why it cannot plan there)."""

    repo: str
    directory: Path
    files: tuple[FilePlan, ...] = ()
    lock: SyncLock = field(default_factory=SyncLock)  # as found
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # for the new lock
    vars_hash: str | None = None
    error: NestrError | None = None

    @property
    def conflicts(self) -> int:
        return sum(1 for f in self.files if f.action is Action.CONFLICT)

    def counts(self) -> dict[str, int]:
        return dict(Counter(str(f.action) for f in self.files))

    def to_dict(self, *, diff: bool = False) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "path": str(self.directory),
            "error": _error_dict(self.error),
            "files": [f.to_dict(diff=diff) for f in self.files],
        }


def _error_dict(error: NestrError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"message": error.message, "hint": error.hint, "exit_code": error.exit_code}


@dataclass(frozen=True)
class SyncPlan:
    """The plan across every selected repo."""

    repos: tuple[RepoPlan, ...]
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def conflicts(self) -> int:
        return sum(r.conflicts for r in self.repos)

    def counts(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for repo in self.repos:
            total.update(repo.counts())
        return dict(total)

    def exit_code(self) -> int:
        """2 if a repo has bad input, 1 if one failed, 3 if conflicts, else 0."""
        return exit_code_for([r.error for r in self.repos], self.conflicts)

    def to_dict(self, *, diff: bool = False) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "repos": [r.to_dict(diff=diff) for r in self.repos],
            "summary": self.counts(),
            "conflicts": self.conflicts,
        }


def exit_code_for(errors: list[NestrError | None], conflicts: int) -> int:
    """The CLI exit code for per-repo errors and a conflict count."""
    codes = {e.exit_code for e in errors if e is not None}
    if 2 in codes:
        return 2
    if codes:
        return 1
    return 3 if conflicts else 0
