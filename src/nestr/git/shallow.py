"""The shallow boundary of a repository (``<git_dir>/shallow``) and keeping history intact.

A shallow mirror lists in ``shallow`` the commits whose parents it does not have. Fetching one
commit by id with ``--depth N`` marks the commit N-1 generations below it as such a boundary
even when the mirror already holds its parents: git then hides history the mirror had (a
branch's ``rev-list --count`` drops), so every later workspace clone would see less of it.
:func:`keep_history` undoes exactly that after such a fetch: a commit newly listed whose
parents are all present is taken off the list again. Objects are never touched.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from nestr.git.ondisk import supported_layout
from nestr.git.runner import run_git

SHALLOW_FILE = "shallow"


def read_shallow(git_dir: Path) -> frozenset[str]:
    """The commits listed as shallow boundaries (empty for a complete repository)."""
    try:
        text = (git_dir / SHALLOW_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return frozenset()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def is_shallow(git_dir: Path) -> bool:
    return (git_dir / SHALLOW_FILE).is_file()


async def keep_history(
    git_dir: Path, before: frozenset[str], *, timeout: float, write: bool = True
) -> bool:
    """Take commits a fetch newly marked shallow, whose parents are present, off the list.

    Call it holding the repository's exclusive lock, right after a ``fetch --depth``. Returns
    whether git still hides history the repository holds: with ``write=False``
    (``git.write_clones`` off), or when the repository fails the layout self-check, nothing is
    written, and the caller completes the history with git (``fetch --unshallow``).
    """
    added = sorted(read_shallow(git_dir) - before)
    if not added:
        return False
    parents = {commit: await _parents(git_dir, commit, timeout=timeout) for commit in added}
    wanted = sorted({parent for found in parents.values() for parent in found})
    present = await _present(git_dir, wanted, timeout=timeout)
    connected = {c for c, found in parents.items() if found and set(found) <= present}
    if not connected:
        return False
    if not (write and supported_layout(git_dir)):
        return True
    _write_shallow(git_dir, read_shallow(git_dir) - connected)
    return False


async def _parents(git_dir: Path, commit: str, *, timeout: float) -> list[str]:
    """The parents a commit object records (``cat-file`` ignores the shallow list)."""
    raw = await run_git(["cat-file", "commit", commit], cwd=git_dir, timeout=timeout)
    header = raw.stdout.split("\n\n", 1)[0]
    return [line.split()[1] for line in header.splitlines() if line.startswith("parent ")]


async def _present(git_dir: Path, commits: list[str], *, timeout: float) -> set[str]:
    if not commits:
        return set()
    result = await run_git(
        ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
        cwd=git_dir,
        timeout=timeout,
        input_bytes="".join(f"{c}\n" for c in commits).encode(),
    )
    lines = (line.split() for line in result.stdout.splitlines())
    return {words[0] for words in lines if len(words) == 2 and words[1] == "commit"}


def _write_shallow(git_dir: Path, commits: frozenset[str]) -> None:
    """Replace the list atomically (temp + rename); an empty list means a complete repo."""
    target = git_dir / SHALLOW_FILE
    if not commits:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        return
    tmp = target.with_name(f"{SHALLOW_FILE}.nestr-tmp")
    tmp.write_text("".join(f"{c}\n" for c in sorted(commits)), encoding="utf-8")
    tmp.replace(target)
