"""Keeping assembly inside the workspace: a repo's directory must be reached without symlinks.

The manifest's rules keep a repo path relative and free of ``..``, but the disk can still lead
elsewhere: a symlinked directory along ``apps/web`` makes the clone land outside the workspace,
and a repo path that is itself a symlink makes nestr move, stash or force-checkout a repository
that is not the workspace's. So before nestr touches a repo it walks the path from the
(resolved) workspace root and checks each component that exists with ``lstat``: a symlink
anywhere on the way, or as the repo's ``.git``, refuses that repo.
"""

from __future__ import annotations

from pathlib import Path

from nestr.manifest.paths import BadPath, normalize_repo_path
from nestr.symlinks import first_symlink
from nestr.workspace.plan import RepoAction

__all__ = ["first_symlink", "outside_refusal"]


def outside_refusal(root: Path, rel: str) -> RepoAction | None:
    """A refusal if the repo at ``root/rel`` is not plainly inside ``root``; None if it is.

    ``root`` must already be resolved. ``rel`` is checked against the manifest's path rules
    again, for repos that did not come through the manifest loader (a cached or hand-built
    manifest).
    """
    try:
        if normalize_repo_path(rel) != rel:
            raise BadPath(f"path {rel!r} is not in normal form", "write it as a/b")
    except BadPath as exc:
        return RepoAction("refuse", reason=str(exc), hint=exc.hint)
    link = first_symlink(root, rel)
    if link is None:
        return None
    return RepoAction(
        "refuse",
        reason=f"{link} is a symlink to {_target(link)}; nestr follows no symlinks in a "
        "workspace, so that it never acts outside it",
        hint=f"replace {link.relative_to(root)} with a real directory (move what it points to "
        "into the workspace), or give the repo another path in the manifest",
    )


def _target(link: Path) -> str:
    try:
        return str(link.readlink())
    except OSError:
        return "?"
