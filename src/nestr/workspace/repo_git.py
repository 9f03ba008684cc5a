"""Git operations on one workspace repository: probe, clone from a mirror, move, stash.

Each function is one or two git processes; the assembly's cost on small repos is the number of
processes, so nothing here asks git what can be read from a file. Clones borrow objects from the
mirror (``--shared``: ``objects/info/alternates``) but own their refs, config and index.

A shallow mirror cannot lend its objects: git ignores ``--shared`` for a shallow source and
copies what the mirror's refs reach over the pack protocol, with the ``shallow`` list. Such a
clone is shallow and self-contained; a pinned commit no ref reaches is fetched into it by id,
and its later fetches from the mirror accept new shallow boundaries (``--update-shallow``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from nestr.errors import GitError
from nestr.git import configfile
from nestr.git.localclone import (
    Checkout,
    MirrorRefs,
    Prototype,
    read_mirror_refs,
    write_clone,
    write_reflogs,
)
from nestr.git.mirror import Mirror
from nestr.git.ondisk import supported_layout
from nestr.git.refs import Resolved, pick_tip_ref, ref_exists, tip_ref
from nestr.git.repo import Repo
from nestr.git.runner import run_git
from nestr.git.shallow import is_shallow
from nestr.workspace.plan import RepoState

TRACKING_REFSPEC = "+refs/heads/*:refs/remotes/origin/*"
STASH_MESSAGE = "nestr assemble: local changes"


async def probe(path: Path, *, timeout: float) -> RepoState:
    """What is at ``path``: nothing, something else, or a repo (HEAD, branch, tracked changes)."""
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return RepoState()  # an empty directory is as good as none: rename() replaces it
    if not (path / ".git").exists():
        return RepoState(exists=True)
    found = await Repo(path, timeout=timeout).status(untracked=False, submodules=False)
    dirty = found.changes.dirty
    return RepoState(exists=True, is_repo=True, head=found.commit, branch=found.branch, dirty=dirty)


async def clone_from_mirror(
    mirror: Mirror,
    dest: Path,
    target: Resolved,
    *,
    url: str,
    dissociate: bool,
    timeout: float,
    prototype: Prototype | None = None,
    write_files: bool = True,
) -> None:
    """Clone the mirror into ``dest`` and check out ``target``; ``origin`` is the real URL.

    With a ``prototype`` (see :mod:`nestr.git.localclone`), nestr writes the borrowing clone's
    ``.git`` itself and one ``git checkout`` fills it. Otherwise ``git clone`` makes it: one
    process in the common cases, as a branch or tag checks out in the clone itself
    (``--branch``), and so does a commit that a branch or tag of the mirror points at — the
    clone checks out that ref, then HEAD is detached by writing the commit into ``.git/HEAD``
    (index and tree already match it). Only another commit needs ``checkout --detach``. With
    ``dissociate`` the clone is a plain local clone (hard links or copies), which needs nothing
    from the cache afterwards. Either way the local refs are the same: the branch clone would
    check out (``--branch``, or the mirror's HEAD branch) tracks origin; a tag or another
    commit is checked out detached.
    """
    refs = None if dissociate or prototype is None else read_mirror_refs(mirror.path)
    if prototype is not None and refs is not None:
        checkout = _checkout_for(refs, target)
        write_clone(prototype, mirror.path, refs, dest, url=url, checkout=checkout)
        await Repo(dest, timeout=timeout).run("checkout", "--quiet", "--force")
        write_reflogs(await asyncio.shield(prototype.ident), mirror.path, refs, dest, checkout)
        return
    ref = _clone_ref(mirror, target)
    args = ["clone", "--quiet", *([] if dissociate else ["--shared"])]
    args += ["--no-checkout"] if ref is None else ["--branch", _short(ref)]
    await run_git([*args, "--", str(mirror.path), str(dest)], cwd=dest.parent, timeout=timeout)
    write_files = write_files and supported_layout(dest / ".git")
    if ref is None:
        if is_shallow(dest / ".git"):  # a copy, not a borrower: it has what refs reach only
            await fetch_commit(dest, mirror, target.commit, timeout=timeout)
        await Repo(dest, timeout=timeout).run("checkout", "--quiet", "--detach", target.commit)
    elif target.kind == "commit" and ref.startswith("refs/heads/"):
        await _detach(dest, target.commit, write_files=write_files, timeout=timeout)
    config = dest / ".git" / "config"
    if not (write_files and configfile.replace_value(config, "remote", "origin", "url", url)):
        await set_origin(dest, url, timeout=timeout)


async def _detach(dest: Path, commit: str, *, write_files: bool, timeout: float) -> None:
    """Detach HEAD of a fresh clone at ``commit``, whose index and tree already match it."""
    if write_files:
        configfile.overwrite(dest / ".git" / "HEAD", f"{commit}\n")
    else:
        await Repo(dest, timeout=timeout).run("checkout", "--quiet", "--detach", commit)


def _clone_ref(mirror: Mirror, target: Resolved) -> str | None:
    """The ref ``clone --branch`` checks out for ``target``; None when it cannot name it."""
    ref = target.ref
    if target.kind == "commit":
        ref = tip_ref(mirror.path, target.commit, target.revision)
    return _unshadowed(ref, lambda branch: ref_exists(mirror.path, branch))


def _checkout_for(refs: MirrorRefs, target: Resolved) -> Checkout:
    """The local branch and HEAD that ``git clone`` (plus the detach) leaves for ``target``."""
    ref = target.ref
    if target.kind == "commit":
        head = f"refs/heads/{refs.head_branch}" if refs.head_branch else None
        ref = pick_tip_ref(refs.tips(), head, target.commit, target.revision)
    ref = _unshadowed(ref, refs.refs.__contains__)
    if ref is None:  # clone --no-checkout makes the mirror's HEAD branch
        return Checkout(refs.head_branch, target.commit)
    if ref.startswith("refs/heads/"):
        return Checkout(_short(ref), ref if target.kind == "branch" else target.commit)
    return Checkout(None, target.commit)


def _unshadowed(ref: str | None, has_branch: Callable[[str], bool]) -> str | None:
    """``ref``, unless it is a tag X with a branch X beside it: ``clone --branch X`` takes the
    branch, so such a tag is checked out by commit (None)."""
    if ref is not None and ref.startswith("refs/tags/") and has_branch("refs/heads/" + _short(ref)):
        return None
    return ref


def _short(ref: str) -> str:
    return ref.split("/", 2)[2]


async def fetch_commit(path: Path, mirror: Mirror, commit: str, *, timeout: float) -> None:
    """Copy ``commit`` and its history from the mirror into a shallow repo that lacks it."""
    args = ["fetch", "--quiet", "--update-shallow", "--no-write-fetch-head"]
    await Repo(path, timeout=timeout).run(*args, str(mirror.path), commit)


async def refresh_tracking(
    path: Path, mirror: Mirror, *, timeout: float, commit: str | None = None
) -> None:
    """Update ``origin/*`` and tags from the mirror (local: objects are borrowed, not copied).

    Tags come with ``--tags`` rather than a refspec so that ``--prune`` never deletes a tag the
    user made; a local tag that differs from the upstream one is kept, not clobbered. A
    shallow repo also takes ``commit`` (a pinned commit no ref may reach) and new shallow
    boundaries: it borrows nothing, so what it does not fetch it does not have.
    """
    # not --quiet: git then hides the "[rejected] … would clobber existing tag" lines
    args = ["fetch", "--prune", "--tags", "--no-write-fetch-head"]
    extra: list[str] = []
    if is_shallow(path / ".git"):
        args.append("--update-shallow")
        extra = [commit] if commit is not None else []
    argv = [*args, str(mirror.path), TRACKING_REFSPEC, *extra]
    result = await Repo(path, timeout=timeout).run(*argv, check=False)
    if result.returncode != 0 and not _only_kept_tags(result.stderr):
        raise GitError(result.argv, result.returncode, result.stderr, cwd=path)


def _only_kept_tags(stderr: str) -> bool:
    rejected = [line for line in stderr.splitlines() if "[rejected]" in line]
    errors = [line for line in stderr.splitlines() if line.startswith(("fatal:", "error:"))]
    return bool(rejected) and not errors and all("clobber existing tag" in r for r in rejected)


async def has_local_work(path: Path, revs: list[str], target: Resolved, *, timeout: float) -> bool:
    """Whether ``revs`` hold commits that neither the target, a remote branch nor a tag has."""
    if not revs:
        return False
    args = ["rev-list", "-n1", *revs, "--not", target.commit, "--remotes", "--tags"]
    return bool((await Repo(path, timeout=timeout).run(*args)).stdout.strip())


async def move_to(
    path: Path, state: RepoState, target: Resolved, *, force: bool, timeout: float
) -> None:
    """Put HEAD on ``target``: the branch (tracking origin) or a detached commit.

    Tracked changes were stashed before, so no ``--force`` is needed: git still refuses to
    overwrite untracked files in the way, and that refusal is the repo's failure.
    """
    if target.kind != "branch":
        args = ["checkout", "--quiet", "--detach", target.commit]
    elif state.branch == target.short_name and not force:
        args = ["merge", "--quiet", "--ff-only", target.commit]
    else:  # also resets the branch under --force; its old commits stay in the reflog
        name = target.short_name
        args = ["checkout", "--quiet", "-B", name, "--track", f"origin/{name}"]
    await Repo(path, timeout=timeout).run(*args)


async def stash_push(path: Path, *, timeout: float) -> str:
    """Stash tracked changes; returns the stash commit id."""
    return await Repo(path, timeout=timeout).stash(STASH_MESSAGE)


async def stash_pop(path: Path, *, timeout: float) -> bool:
    """Re-apply the last stash; False (stash kept, conflicts in the tree) if it conflicts."""
    return await Repo(path, timeout=timeout).stash_pop()


async def dissociate(path: Path, *, timeout: float) -> bool:
    """Copy borrowed objects into the repo and stop borrowing; False if it borrowed nothing."""
    alternates = path / ".git" / "objects" / "info" / "alternates"
    if not alternates.exists():
        return False
    await Repo(path, timeout=timeout).run("repack", "-a", "-d", "-q")
    alternates.unlink()
    return True


def origin_url(repo: Path) -> str | None:
    """``remote.origin.url`` read from ``.git/config`` (no process; None if not found)."""
    return configfile.read_value(repo / ".git" / "config", "remote", "origin", "url")


async def set_origin(repo: Path, url: str, *, timeout: float) -> None:
    await Repo(repo, timeout=timeout).run("remote", "set-url", "origin", url)


def borrowed_from(repo: Path) -> list[Path]:
    """Object directories a repo borrows from (its ``objects/info/alternates``)."""
    alternates = repo / ".git" / "objects" / "info" / "alternates"
    try:
        lines = alternates.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    base = alternates.parent.parent
    return [
        (base / line.strip()).resolve()
        for line in lines
        if line.strip() and not line.startswith("#")
    ]


def exclude_children(repo: Path, children: list[str]) -> None:
    """List nested repos in ``.git/info/exclude`` so the parent does not see them as untracked."""
    if not children:
        return
    exclude = repo / ".git" / "info" / "exclude"
    try:
        present = set(exclude.read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        present = set()
    missing = [f"/{child}/" for child in children if f"/{child}/" not in present]
    if missing:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in missing))
