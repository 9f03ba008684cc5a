"""What an assembly reports: one frozen result per repo and a summary, with a stable JSON form.

The JSON shapes are documented in docs/workspaces.md; keys are only ever added, never renamed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from nestr.errors import EXIT_CONFLICTS, EXIT_FAILED, EXIT_OK, NestrError
from nestr.events.catalog import RepoOutcome

if TYPE_CHECKING:
    from nestr.manifest.model import RepoSpec
    from nestr.workspace.plan import RepoAction, RepoState

RepoStatus = Literal["cloned", "updated", "unchanged", "refused", "conflict", "failed"]
OK_STATUSES: frozenset[str] = frozenset({"cloned", "updated", "unchanged"})


@dataclass(frozen=True)
class RepoResult:
    """How one repo of an assembly ended."""

    name: str
    path: str
    status: RepoStatus
    revision: str
    commit: str | None = None  # HEAD after the assembly (None if the repo is not there)
    previous: str | None = None  # HEAD before, for repos that existed
    message: str | None = None  # why it was refused or failed, or what was done besides
    hint: str | None = None
    stash: str | None = None  # a stash nestr left (conflicting re-apply, or --force)
    fetched: bool = False  # whether the mirror was fetched for it
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def to_dict(self) -> RepoOutcome:
        return {
            "name": self.name,
            "path": self.path,
            "status": self.status,
            "ok": self.ok,
            "revision": self.revision,
            "commit": self.commit,
            "previous": self.previous,
            "message": self.message,
            "hint": self.hint,
            "stash": self.stash,
            "fetched": self.fetched,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class AssemblyResult:
    """The outcome of one ``assemble``: every selected repo's result, in manifest order."""

    workspace: str
    workspace_id: str
    manifest: str
    locked: bool
    repos: tuple[RepoResult, ...]
    seconds: float = 0.0
    expires: str | None = None
    discarded: bool = False  # a new ephemeral workspace removed because nothing was assembled

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.repos)

    @property
    def exit_code(self) -> int:
        """1 if a repo failed or was refused, 3 if only stash conflicts were left, else 0."""
        if any(r.status in {"failed", "refused"} for r in self.repos):
            return EXIT_FAILED
        if any(r.status == "conflict" for r in self.repos):
            return EXIT_CONFLICTS
        return EXIT_OK

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for repo in self.repos:
            out[repo.status] = out.get(repo.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "workspace_id": self.workspace_id,
            "manifest": self.manifest,
            "locked": self.locked,
            "expires": self.expires,
            "discarded": self.discarded,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "counts": self.counts(),
            "seconds": round(self.seconds, 3),
            "repos": [r.to_dict() for r in self.repos],
        }


def repo_result(
    spec: RepoSpec, status: RepoStatus, started: float | None = None, **fields: Any
) -> RepoResult:
    seconds = time.perf_counter() - started if started is not None else 0.0
    return RepoResult(spec.name, spec.path, status, spec.revision, seconds=seconds, **fields)


def refused_result(spec: RepoSpec, state: RepoState, action: RepoAction) -> RepoResult:
    return repo_result(
        spec,
        "refused",
        commit=state.head,
        previous=state.head,
        message=action.reason,
        hint=action.hint,
    )


def failed_result(spec: RepoSpec, exc: NestrError | OSError, started: float) -> RepoResult:
    message = exc.message if isinstance(exc, NestrError) else f"{exc.strerror}: {exc.filename}"
    hint = exc.hint if isinstance(exc, NestrError) else None
    return repo_result(spec, "failed", started, message=message, hint=hint)


def crashed_result(spec: RepoSpec, exc: BaseException | None) -> RepoResult:
    """A repo whose work raised something unexpected: still one failed result, not a crash."""
    return repo_result(spec, "failed", message=f"unexpected {type(exc).__name__}: {exc}")
