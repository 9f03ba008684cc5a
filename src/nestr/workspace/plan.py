"""The pure half of assembly: from what is on disk and what the manifest wants, decide per repo.

No git, no disk: plain values in, plain values out, so every rule (what counts as local work,
when a repo is left alone, which repo waits for which) is tested with data. The executor in
``nestr.workspace.assemble`` gathers the :class:`RepoState` and carries out the action.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from nestr.git.refs import Resolved
from nestr.manifest.model import RepoSpec

ActionKind = Literal["clone", "unchanged", "move", "refuse"]
UNCHANGED_DIRTY = "uncommitted changes kept"


@dataclass(frozen=True)
class RepoState:
    """A repo directory as found: absent, occupied by something else, or a repository."""

    exists: bool = False
    is_repo: bool = False
    head: str | None = None  # commit of HEAD
    branch: str | None = None  # current branch; None when detached
    dirty: bool = False  # tracked changes, staged or not (untracked files are never lost)


@dataclass(frozen=True)
class RepoAction:
    """What to do with one repo. ``reason`` explains refusals; ``stash``/``force`` how to move;
    ``note`` is what is worth saying about a repo left as it is."""

    kind: ActionKind
    reason: str | None = None
    hint: str | None = None
    stash: bool = False  # stash local changes, move, re-apply
    force: bool = False  # move even over local work (changes are kept in a stash)
    note: str | None = None


def at_target(state: RepoState, target: Resolved) -> bool:
    """HEAD is the wanted commit, on the wanted branch (or detached for tags and commits)."""
    if state.head != target.commit:
        return False
    if target.kind == "branch":
        return state.branch == target.short_name
    return state.branch is None


def plan_repo(state: RepoState, target: Resolved, *, stash: bool, force: bool) -> RepoAction:
    """Decide clone / leave / move / refuse from the state of the directory alone."""
    if not state.exists:
        return RepoAction("clone")
    if not state.is_repo:
        return RepoAction(
            "refuse",
            reason="the path exists and is not a git repository",
            hint="move it away, or change the repo's path in the manifest",
        )
    if at_target(state, target):  # nothing moves, so local changes are in nobody's way
        return RepoAction("unchanged", note=UNCHANGED_DIRTY if state.dirty else None)
    if state.dirty and not (stash or force):
        return RepoAction(
            "refuse",
            reason="uncommitted changes",
            hint="commit them, or re-run with --stash (or --force)",
        )
    return RepoAction("move", stash=stash, force=force)


def local_work_revs(state: RepoState, target: Resolved) -> list[str]:
    """Revisions whose commits must already be on the target or upstream before moving.

    A detached HEAD, or the branch being moved, could lose commits; any other local branch is
    left as it is and keeps its commits. The executor runs
    ``git rev-list -n1 <these> --not <target> --remotes --tags``: any output is local work.
    """
    revs: list[str] = []
    if state.branch is None or (target.kind == "branch" and state.branch == target.short_name):
        revs.append("HEAD")
    if target.kind == "branch" and state.branch != target.short_name:
        revs.append(f"--branches={target.short_name}")
    return revs


def refuse_local_commits() -> RepoAction:
    return RepoAction(
        "refuse",
        reason="local commits that are not on the upstream",
        hint="push them (or move them to another branch), or re-run with --force",
    )


def parent_of(spec: RepoSpec, specs: Sequence[RepoSpec]) -> RepoSpec | None:
    """The repo whose path most closely contains ``spec``'s path, if any."""
    own = _parts(spec.path)
    best: RepoSpec | None = None
    best_depth = -1  # a repo at the workspace root (".") has no parts and contains all
    for other in specs:
        theirs = _parts(other.path)
        if best_depth < len(theirs) < len(own) and own[: len(theirs)] == theirs:
            best, best_depth = other, len(theirs)
    return best


def children_of(spec: RepoSpec, specs: Sequence[RepoSpec]) -> list[str]:
    """Paths of nested repos, relative to ``spec``'s directory (to exclude them from it)."""
    own = _parts(spec.path)
    return sorted(
        "/".join(theirs[len(own) :])
        for theirs in (_parts(other.path) for other in specs)
        if len(theirs) > len(own) and theirs[: len(own)] == own
    )


@functools.lru_cache(maxsize=4096)
def _parts(path: str) -> tuple[str, ...]:
    """Normalized components (``a//b/./c/`` is ``a, b, c``); called once per repo per repo."""
    return PurePosixPath(path).parts


def assembly_order(specs: Sequence[RepoSpec]) -> list[RepoSpec]:
    """Parents before children (shallower paths first); otherwise manifest order."""
    index = {spec.name: i for i, spec in enumerate(specs)}
    return sorted(specs, key=lambda s: (len(PurePosixPath(s.path).parts), index[s.name]))
