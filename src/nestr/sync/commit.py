"""Committing a sync: exactly the bytes nestr wrote, even when a run was interrupted.

Before its first write, ``apply --commit`` records a journal in the repo's git directory
(``<git-dir>/nestr-sync-journal.json``): every path it is about to write or delete, the lock
included, with the git blob id of the bytes it writes (``null``: it deletes the path). The commit
holds ``HEAD`` plus those paths (``git commit --only``), each taken only while the work tree
still holds exactly what nestr wrote: a file edited since stays out of the commit, uncommitted,
and whatever else the user changed or staged is never part of it. The journal goes once the
commit exists. A run killed before that leaves it behind, and the next ``apply --commit``
finishes it, in one commit with whatever that run writes itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nestr.atomicfile import write_atomic
from nestr.errors import InputError, SourceLocation, UsageError
from nestr.git.repo import Repo
from nestr.sync.content import blob_id
from nestr.sync.files import safe_file
from nestr.sync.lockfile import LOCK_PATH
from nestr.sync.model import FilePlan, RepoPlan
from nestr.sync.objects import BASES_REF
from nestr.sync.planner import Action, Policy, Record

JOURNAL_NAME = "nestr-sync-journal.json"
JOURNAL_VERSION = 1

Entries = Mapping[str, str | None]  # path -> blob id of the bytes written (None: deleted)


@dataclass(frozen=True)
class Committed:
    """The commit made (``None``: nothing differed from HEAD) and the paths left out of it."""

    commit: str | None
    left_out: tuple[str, ...] = ()


async def journal_path(repo: Path, *, timeout: float) -> Path:
    """Where the journal of ``repo`` lives (in its git directory, never in the work tree)."""
    dot_git = repo / ".git"
    if dot_git.is_dir() and not dot_git.is_symlink():
        return dot_git / JOURNAL_NAME
    return await Repo(repo, timeout=timeout).git_dir() / JOURNAL_NAME


def read_journal(path: Path) -> dict[str, str | None]:
    """The entries of an unfinished commit (none when there is no journal)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        files = raw["files"] if raw.get("version") == JOURNAL_VERSION else None
        if not isinstance(files, dict):
            raise ValueError(f"unsupported journal version {raw.get('version')!r}")
        return {str(k): (str(v) if v is not None else None) for k, v in files.items()}
    except FileNotFoundError:
        return {}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"unreadable sync journal: {exc}",
            location=SourceLocation(file=path),
            hint="remove it; the next `nestr sync apply --commit` commits what it writes itself",
        ) from None


def write_journal(path: Path, entries: Entries) -> None:
    data = {"version": JOURNAL_VERSION, "files": dict(sorted(entries.items()))}
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


async def uncommitted_settled(
    repo: RepoPlan, lock_text: str | None, *, timeout: float, ask_git: bool = True
) -> dict[str, str | None]:
    """Entries for managed paths that already hold nestr's content but differ from HEAD.

    These are files planned ``unchanged`` whose content is the source (so nestr's, never a
    local edit; managed-block files are left out, as the rest of such a file is the repo's), and
    the lock when it is the one this run leaves: an earlier apply without ``--commit``, or one
    killed before it committed, wrote them.

    ``ask_git=False`` returns every such path without asking git which differ from HEAD: for a
    run that commits anyway, whose commit leaves out what HEAD already holds (one git process
    a repo less).
    """
    settled: dict[str, str | None] = {}
    for plan in repo.files:
        if (
            plan.action is Action.UNCHANGED
            and plan.record is Record.SOURCE
            and plan.policy is not Policy.MANAGED_BLOCK
            and plan.before is not None
        ):
            path = safe_file(repo.directory, plan.path).relative_to(repo.directory.resolve())
            settled[path.as_posix()] = entry_for(plan.before)
    if lock_text is not None:
        settled[LOCK_PATH] = entry_for(lock_text.encode())
    if not settled or not ask_git:
        return settled
    found = await Repo(repo.directory, timeout=timeout).status(paths=list(settled), headers=False)
    changed = found.paths
    return {path: blob for path, blob in settled.items() if path in changed}


async def uncommitted_edits(
    directory: Path, chosen: list[tuple[FilePlan, str]], *, timeout: float
) -> tuple[str, ...]:
    """Paths about to be written with the repo's own text kept (a merge, the rest of a block
    file) whose work-tree content differs from HEAD: their commit takes that edit along."""
    paths = [
        path
        for plan, path in chosen
        if plan.action is Action.MERGE or plan.policy is Policy.MANAGED_BLOCK
    ]
    if not paths:
        return ()
    git = Repo(directory, timeout=timeout)
    diff = await git.run("diff", "--no-ext-diff", "--name-only", "HEAD", "--", *paths, check=False)
    return tuple(sorted(set(diff.stdout.split("\n")) & set(paths)))


def entry_for(data: bytes | None) -> str | None:
    """The journal entry of a path nestr writes ``data`` to (``None``: deletes it)."""
    return blob_id(data) if data is not None else None


async def commit_entries(
    repo: Path, entries: Entries, message: str, *, timeout: float
) -> Committed:
    """One commit of HEAD plus the journalled paths that still hold what nestr wrote."""
    added, removed, left_out = [], [], []
    for path, blob in sorted(entries.items()):
        if _current(repo, path) != blob:
            left_out.append(path)
        elif blob is None:
            removed.append(path)
        else:
            added.append(path)
    if not added and not removed:
        return Committed(None, tuple(left_out))

    git = Repo(repo, timeout=timeout)
    # Stage exactly these paths (new files must be known to git for `commit --only`), then commit
    # only them: `--only` takes their work-tree content, which was just checked to be nestr's
    # bytes, and leaves whatever else the user staged staged and out of the commit.
    if added:
        await git.add(added)
    if removed:
        await git.run("rm", "-q", "--cached", "--ignore-unmatch", "--", *removed)
    staged = await git.run(
        "diff", "--cached", "--name-only", "-z", "HEAD", "--", *added, *removed, check=False
    )
    if staged.returncode == 0:
        paths = [name for name in staged.stdout.split("\0") if name]
        if not paths:
            return Committed(None, tuple(left_out))  # the paths already hold what HEAD has
    else:
        paths = added  # an unborn branch: nothing to delete from, everything added is new
    head = await git.commit(message, only=paths, no_verify=True)
    return Committed(head, tuple(left_out))


def _current(repo: Path, path: str) -> str | bool | None:
    """Blob id of the file at ``path`` now (``None``: missing; ``False``: not a safe file)."""
    try:
        file = safe_file(repo, path)
        return blob_id(file.read_bytes())
    except FileNotFoundError:
        return None
    except (InputError, OSError):
        return False


async def switch_branch(directory: Path, branch: str, timeout: float) -> str:
    """Switch to a new ``branch`` made from HEAD (the work tree stays as planned)."""
    git = Repo(directory, timeout=timeout)
    if await git.branch() == branch:
        return branch
    if await git.resolve(f"refs/heads/{branch}") is not None:
        # Checking it out would change the work tree the plan was made from.
        raise UsageError(
            f"branch {branch!r} already exists in {directory}",
            hint="check it out first, or choose another --branch",
        )
    await git.switch(branch, create=True)
    return branch


async def push(directory: Path, branch: str | None, timeout: float) -> bool:
    """Push HEAD to ``branch`` of origin, with the pinned sync bases when there are any."""
    if branch is None:
        raise UsageError(f"{directory} is on a detached HEAD", hint="pass --branch NAME")
    git = Repo(directory, timeout=timeout)
    refspecs = [f"HEAD:refs/heads/{branch}"]
    if await git.resolve(BASES_REF) is not None:
        refspecs.append(f"+{BASES_REF}:{BASES_REF}")
    await git.push("origin", refspecs)
    return True
