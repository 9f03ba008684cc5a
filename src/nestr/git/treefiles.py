"""Files of a commit, read from a (bare) repository without a checkout.

west manifests import files of other projects at those projects' revisions; nestr reads them
from the mirror cache, as ``west`` reads them from ``manifest-rev`` (``git ls-tree`` to tell a
file from a directory, then the blobs).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from nestr.git.runner import DEFAULT_TIMEOUT, run_git


async def read_files_at(
    git_dir: Path,
    commit: str,
    path: str,
    *,
    suffixes: tuple[str, ...] = (".yml", ".yaml"),
    timeout: float = DEFAULT_TIMEOUT,
) -> list[tuple[str, str]]:
    """``[(path, text)]``: the file at ``path`` in ``commit``, or the files with ``suffixes``
    directly in the directory at ``path``, in name order. FileNotFoundError if neither."""
    entries = await _ls_tree(git_dir, commit, path, timeout)
    if len(entries) != 1 or entries[0][2] != path:
        raise FileNotFoundError(path)
    kind, oid, _ = entries[0]
    if kind == "blob":
        return [(path, await _blob(git_dir, oid, timeout))]
    if kind != "tree":
        raise FileNotFoundError(path)
    inside = await _ls_tree(git_dir, commit, f"{path}/", timeout)
    wanted = sorted(
        (name, oid)
        for kind, oid, name in inside
        if kind == "blob" and PurePosixPath(name).suffix in suffixes
    )
    return [(name, await _blob(git_dir, oid, timeout)) for name, oid in wanted]


async def _ls_tree(
    git_dir: Path, commit: str, path: str, timeout: float
) -> list[tuple[str, str, str]]:
    """``(type, object, path)`` of each entry ``git ls-tree`` lists for ``path``."""
    result = await run_git(["ls-tree", "-z", commit, "--", path], cwd=git_dir, timeout=timeout)
    entries = []
    for record in filter(None, result.stdout.split("\0")):
        meta, _, name = record.partition("\t")
        _, kind, oid = meta.split(" ", 2)
        entries.append((kind, oid, name))
    return entries


async def _blob(git_dir: Path, oid: str, timeout: float) -> str:
    return (await run_git(["cat-file", "blob", oid], cwd=git_dir, timeout=timeout)).stdout
