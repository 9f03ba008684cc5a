"""Moving a repo to a new revision so that an interrupted move is finished by the next run.

A checkout that dies with its git process (SIGKILL of the whole tree, a timeout or Ctrl-C,
which kill git's process group) leaves the old HEAD, a work tree half-switched to the new
revision and a stale ``.git/index.lock``: git reports the half-written files as uncommitted
changes and refuses every later command. So before it moves a repo, nestr writes
``.git/nestr-switch`` (the target and the HEAD it leaves), and removes it once git is done. On
the next assembly a marker together with an ``index.lock`` no younger than it means git was
killed in the middle of nestr's own checkout; if no process still works in the repo, the lock
is removed and the checkout is finished with ``--force``. That loses nothing of the user's: a
repo with tracked changes is never moved without ``--stash``/``--force``, which stash them
first, and git checks for untracked files in the way before it writes a single file, so every
change in the half-switched tree is git's own writing of the target.

A marker without an ``index.lock`` means git finished (or never started, or died between
writing the index and HEAD): the marker is dropped and the repo is planned as usual.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from nestr.errors import WorkFailed
from nestr.git import configfile
from nestr.git.refs import is_full_commit_id
from nestr.git.repo import Repo

MARKER = "nestr-switch"


@dataclass(frozen=True)
class Switch:
    """A move of one repo: to ``target`` (on ``branch``, or detached), from ``previous``."""

    target: str
    branch: str | None = None
    previous: str | None = None
    stash: str | None = None  # where the repo's local changes were saved before the move


def marker_path(repo: Path) -> Path:
    return repo / ".git" / MARKER


def begin(repo: Path, switch: Switch) -> None:
    """Record ``switch`` before git starts it (atomically: a marker is whole or absent)."""
    path = marker_path(repo)
    tmp = path.with_name(f"{MARKER}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(switch)) + "\n", encoding="utf-8")
    tmp.replace(path)


def end(repo: Path) -> None:
    """The move is over (done, or refused by git without touching the tree)."""
    marker_path(repo).unlink(missing_ok=True)


def read(repo: Path) -> Switch | None:
    """The recorded switch; None if there is none or it cannot be read."""
    try:
        raw = json.loads(marker_path(repo).read_text(encoding="utf-8"))
        switch = Switch(**raw)
        if not is_full_commit_id(switch.target) or (switch.branch or "x").startswith("-"):
            raise ValueError(switch.target)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError, TypeError):
        end(repo)  # a marker nestr did not write: nothing to finish
        return None
    return switch


async def finish_interrupted(repo: Path, *, timeout: float) -> str | None:
    """Finish a move of ``repo`` that was killed half-way; a note for the result, else None.

    Must run with the workspace's assembly lock held: then no other nestr works in ``repo``.
    """
    switch = read(repo)
    if switch is None:
        return None
    lock = repo / ".git" / "index.lock"
    if not _lock_from(lock, marker_path(repo)):
        end(repo)
        return None
    busy = git_processes_in(repo)
    if busy:
        raise WorkFailed(
            f"a move of this repo to {switch.target[:12]} was interrupted, and git process "
            f"{busy[0]} still works in it ({lock} exists)",
            hint="wait for that process to end (or end it), then run `nestr assemble` again",
        )
    lock.unlink(missing_ok=True)
    await _checkout(repo, switch, timeout=timeout)
    end(repo)
    note = f"finished an interrupted move to {switch.target[:12]}"
    if switch.stash is not None:
        note += f"; local changes are in stash {switch.stash[:12]} (git stash list)"
    return note


def index_lock_hint(repo: Path) -> str | None:
    """Why git may have failed in ``repo`` without saying so: a leftover ``index.lock``.

    (``git stash`` exits 1 with no message when it cannot take the index lock.)
    """
    lock = repo / ".git" / "index.lock"
    if not lock.is_file():
        return None
    return (
        f"{lock} exists: another git process works in this repo, or one was killed and left "
        "it behind; if no git runs there, remove that file and run the command again"
    )


def _lock_from(lock: Path, marker: Path) -> bool:
    """Whether ``lock`` exists and was made no earlier than ``marker`` (by nestr's checkout)."""
    try:
        return lock.stat().st_mtime_ns >= marker.stat().st_mtime_ns
    except FileNotFoundError:
        return False


async def _checkout(repo: Path, switch: Switch, *, timeout: float) -> None:
    git = Repo(repo, timeout=timeout)
    if switch.branch is None:
        await git.run("checkout", "--quiet", "--force", "--detach", switch.target)
        return
    await git.run("checkout", "--quiet", "--force", "-B", switch.branch, switch.target)
    config = repo / ".git" / "config"
    if configfile.read_value(config, "branch", switch.branch, "merge") is None:
        # `checkout -B x --track origin/x` was killed before it made the branch
        upstream = f"--set-upstream-to=origin/{switch.branch}"
        await git.run("branch", "--quiet", upstream, check=False)


def git_processes_in(repo: Path) -> list[int]:
    """git processes whose working directory is ``repo`` or below it.

    git runs in the repo it works on, so a git that outlived a killed nestr is found here (a
    shell the user keeps open in the repo is not git, and does not count). Read from
    ``/proc``, so on systems without it the list is empty.
    """
    base = str(repo.resolve())
    found = []
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text(encoding="utf-8", errors="replace").strip()
            cwd = str((entry / "cwd").readlink()) if _is_git(name) else ""
        except OSError:
            continue
        if cwd == base or cwd.startswith(base + "/"):
            found.append(int(entry.name))
    return sorted(found)


def _is_git(name: str) -> bool:
    return name == "git" or name.startswith("git-")
