"""What ``sync apply`` did, per repo and across every repo.

The ``to_dict`` shapes are the ``--json`` output documented in docs/json.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nestr.errors import NestrError
from nestr.sync.model import RepoPlan, SyncPlan, exit_code_for
from nestr.sync.planner import Action


@dataclass(frozen=True)
class SyncRepoResult:
    """What apply did in one repo."""

    plan: RepoPlan
    written: tuple[str, ...] = ()  # destinations written or deleted
    lock_written: bool = False
    commit: str | None = None
    branch: str | None = None
    pushed: bool = False
    error: NestrError | None = None
    saved: Mapping[str, str] = field(default_factory=dict)  # path -> blob of a discarded edit
    not_committed: tuple[str, ...] = ()  # written, but changed again before the commit
    edits_committed: tuple[str, ...] = ()  # merged over an uncommitted local edit, committed

    @property
    def conflicts(self) -> int:
        return self.plan.conflicts

    @property
    def markers_written(self) -> int:
        written = set(self.written)
        return sum(1 for f in self.plan.files if f.action is Action.CONFLICT and f.path in written)

    def to_dict(self) -> dict[str, Any]:
        out = self.plan.to_dict()
        written = set(self.written)
        for item in out["files"]:
            item["written"] = item["path"] in written
            if item["path"] in self.saved:
                item["saved_blob"] = self.saved[item["path"]]
        if self.error is not None and self.plan.error is None:
            out["error"] = {
                "message": self.error.message,
                "hint": self.error.hint,
                "exit_code": self.error.exit_code,
            }
        out.update(
            lock_written=self.lock_written,
            commit=self.commit,
            branch=self.branch,
            pushed=self.pushed,
            not_committed=list(self.not_committed),
            local_edits_committed=list(self.edits_committed),
        )
        return out


@dataclass(frozen=True)
class SyncResult:
    """What apply did across every repo."""

    repos: tuple[SyncRepoResult, ...]
    plan: SyncPlan = field(default_factory=lambda: SyncPlan(()))

    @property
    def conflicts(self) -> int:
        return sum(r.conflicts for r in self.repos if r.error is None)

    def exit_code(self) -> int:
        """2 bad input in a repo, 1 a repo failed, 3 conflicts left, 0 otherwise."""
        return exit_code_for([r.error for r in self.repos], self.conflicts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": self.plan.sources,
            "repos": [r.to_dict() for r in self.repos],
            "summary": self.plan.counts(),
            "conflicts": self.conflicts,
        }
