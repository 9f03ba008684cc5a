"""The state of each repo of a workspace: branch, commit, local changes, upstream and lock drift.

One git process per repo (:func:`nestr.git.repo.read_statuses`): ``git status --porcelain=v2
--branch -z`` reports the branch, the
commit, the upstream with ahead/behind counts and every changed path in a single call, and the
locked commit comes from ``nestr.lock`` rather than from git. Cost on small repos is the number
of git processes, so status stays near one per repo (see docs/status-foreach.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nestr.errors import WorkFailed
from nestr.events.catalog import STATUS_REPO, StatusRepo
from nestr.git.repo import GitStatus, read_statuses
from nestr.git.runner import DEFAULT_TIMEOUT
from nestr.manifest.model import Manifest, RepoSpec
from nestr.workspace.lockfile import lock_path_for, read_lock
from nestr.workspace.record import Workspace

if TYPE_CHECKING:
    from nestr.events import EventBus

RepoState = Literal["ok", "missing", "error"]
LockState = Literal["match", "drift", "unlocked"]


@dataclass(frozen=True)
class RepoStatus:
    """The status of one repo of the manifest in one workspace."""

    name: str
    path: str  # as in the manifest, relative to the workspace root
    revision: str  # what the manifest asks for
    state: RepoState
    git: GitStatus | None = None  # None unless state == "ok"
    locked_commit: str | None = None
    locked: bool = False  # a lock file exists beside the manifest
    error: str | None = None

    @property
    def lock_state(self) -> LockState | None:
        """``match``/``drift`` against the lock, ``unlocked`` if the lock lacks the repo."""
        if not self.locked or self.git is None:
            return None
        if self.locked_commit is None:
            return "unlocked"
        return "match" if self.locked_commit == self.git.commit else "drift"

    def to_dict(self) -> StatusRepo:
        """The JSON shape documented in docs/status-foreach.md."""
        git = self.git
        changes = git.changes if git else None
        return {
            "name": self.name,
            "path": self.path,
            "revision": self.revision,
            "state": self.state,
            "error": self.error,
            "branch": git.branch if git else None,
            "detached": git is not None and git.branch is None,
            "commit": git.commit if git else None,
            "upstream": git.upstream if git else None,
            "ahead": git.ahead if git else None,
            "behind": git.behind if git else None,
            "changes": None
            if changes is None
            else {
                "staged": changes.staged,
                "unstaged": changes.unstaged,
                "untracked": changes.untracked,
                "conflicted": changes.conflicted,
            },
            "dirty": bool(changes and changes.dirty),
            "lock": None
            if self.lock_state is None
            else {"commit": self.locked_commit, "state": self.lock_state},
        }


@dataclass(frozen=True)
class WorkspaceStatus:
    """The status of every selected repo, in manifest order."""

    root: Path
    manifest: Path
    lock_file: Path | None  # the lock read, if one exists
    repos: tuple[RepoStatus, ...]

    @property
    def ok(self) -> bool:
        """True when every repo could be read (missing repos are reported, not errors)."""
        return all(r.state != "error" for r in self.repos)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": str(self.root),
            "manifest": str(self.manifest),
            "lock_file": str(self.lock_file) if self.lock_file else None,
            "repos": [r.to_dict() for r in self.repos],
        }


def is_checkout(directory: Path) -> bool:
    """True when ``directory`` holds a git work tree (``.git`` dir, or file for worktrees)."""
    return (directory / ".git").exists()


def workspace_status(
    workspace: Workspace,
    repos: Sequence[RepoSpec],
    *,
    manifest: Manifest,
    jobs: int,
    timeout: float = DEFAULT_TIMEOUT,
    bus: EventBus | None = None,
) -> WorkspaceStatus:
    """The status of ``repos`` in ``workspace``, read in parallel, in the order given.

    Blocking, with no event loop: the whole job is one short git process per repo, and
    starting asyncio would cost about as much as the processes (docs/status-foreach.md).
    Emits ``nestr.workspace.status.repo`` per repo on ``bus`` (data: the repo's JSON shape).
    """
    lock_file, locked = read_locked_commits(manifest)
    dirs = [workspace.repo_dir(spec) for spec in repos]
    present = [i for i, directory in enumerate(dirs) if is_checkout(directory)]
    results = read_statuses([dirs[i] for i in present], jobs=jobs, timeout=timeout)
    outcomes = dict(zip(present, results, strict=True))
    statuses = tuple(
        _with_git(_base(spec, locked), outcomes.get(i)) for i, spec in enumerate(repos)
    )
    if bus is not None:
        for spec, status in zip(repos, statuses, strict=True):
            bus.emit(STATUS_REPO, status.to_dict(), repo=spec.name)
    return WorkspaceStatus(workspace.root, manifest.path, lock_file, statuses)


def repo_status(
    workspace: Workspace,
    spec: RepoSpec,
    *,
    locked: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> RepoStatus:
    """The status of one repo: ``missing`` if not assembled, ``error`` if git cannot read it."""
    base, directory = _base(spec, locked), workspace.repo_dir(spec)
    if not is_checkout(directory):
        return base
    [outcome] = read_statuses([directory], jobs=1, timeout=timeout)
    return _with_git(base, outcome)


def _base(spec: RepoSpec, locked: Mapping[str, str] | None) -> RepoStatus:
    return RepoStatus(
        name=spec.name,
        path=spec.path,
        revision=spec.revision,
        state="missing",
        locked_commit=(locked or {}).get(spec.name),
        locked=locked is not None,
    )


def _with_git(base: RepoStatus, outcome: GitStatus | WorkFailed | None) -> RepoStatus:
    if outcome is None:  # not a checkout: not assembled
        return base
    if isinstance(outcome, WorkFailed):
        return replace(base, state="error", error=outcome.message)
    return replace(base, state="ok", git=outcome)


def read_locked_commits(manifest: Manifest) -> tuple[Path | None, dict[str, str] | None]:
    """The lock file beside the manifest and its commit per repo, or ``(None, None)``."""
    path = lock_path_for(manifest)
    if not path.is_file():
        return None, None
    lock = read_lock(path)
    return path, {name: repo.commit for name, repo in lock.repos.items()}
