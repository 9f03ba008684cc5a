"""Git plumbing sync needs: 3-way merges, and base blobs in a repo's object database.

Bases live in the target repo itself (``git hash-object -w``), so any clone that has them can
merge, and a ref (``refs/nestr/sync-bases``) pointing at a tree of them keeps ``git gc`` from
pruning the ones no commit holds (the base of a merged file is not the file's content).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from nestr.errors import GitError
from nestr.git.runner import run_git, run_git_sync
from nestr.sync.content import blob_id
from nestr.sync.planner import MergeOutcome

BASES_REF = "refs/nestr/sync-bases"
_LABELS = ("-L", "repo", "-L", "last sync", "-L", "source")


def _merge_args(directory: Path, base: bytes, ours: bytes, theirs: bytes) -> list[str]:
    paths = []
    for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
        path = directory / name
        path.write_bytes(data)
        paths.append(str(path))
    # Without -p, merge-file writes the result into the "ours" file: bytes stay bytes, where
    # stdout would pass through a text decoding that could mangle non-UTF-8 text.
    return ["merge-file", *_LABELS, *paths]


def _outcome(directory: Path, args: list[str], returncode: int, stderr: str) -> MergeOutcome:
    # merge-file exits with the number of conflicts (capped at 127), or 255 on error.
    if returncode < 0 or returncode > 127:
        raise GitError(["git", *args], returncode, stderr)
    return MergeOutcome((directory / "ours").read_bytes(), returncode)


async def merge_texts(base: bytes, ours: bytes, theirs: bytes, *, timeout: float) -> MergeOutcome:
    """3-way merge with ``git merge-file``: ``ours`` is the repo's text, ``theirs`` the source."""
    with tempfile.TemporaryDirectory(prefix="nestr-merge-") as tmp:
        args = _merge_args(Path(tmp), base, ours, theirs)
        result = await run_git(args, timeout=timeout, check=False)
        return _outcome(Path(tmp), args, result.returncode, result.stderr)


def merge_texts_sync(
    base: bytes, ours: bytes, theirs: bytes, *, workdir: Path, timeout: float = 60.0
) -> MergeOutcome:
    """Blocking :func:`merge_texts` using ``workdir`` for its three files (reused across calls)."""
    args = _merge_args(workdir, base, ours, theirs)
    result = run_git_sync(args, timeout=timeout, check=False)
    return _outcome(workdir, args, result.returncode, result.stderr)


async def read_blobs(repo: Path, ids: Iterable[str], *, timeout: float) -> dict[str, bytes]:
    """Contents of the blobs ``ids`` found in ``repo``'s objects (missing ones are left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    request = "".join(f"{i}\n" for i in wanted).encode()
    proc = await run_git(
        ["cat-file", "--batch"], cwd=repo, timeout=timeout, input_bytes=request, check=True
    )
    # run_git hands stdout over as text, which alters bytes that are not UTF-8. Each blob is
    # therefore checked against its id; one that does not match is read again byte-exact
    # through a file (unpack-file), and one still not found is missing: its file conflicts.
    parsed = _parse_batch(proc.stdout.encode())
    found = {i: data for i, data in parsed.items() if blob_id(data) == i}
    again = [i for i in wanted if i not in found]
    if again:
        found.update(await _unpack(repo, again, timeout=timeout))
    return found


async def _unpack(repo: Path, ids: list[str], *, timeout: float) -> dict[str, bytes]:
    """Blobs read through ``git unpack-file`` (which writes them into the working directory)."""
    git_dir = await run_git(["rev-parse", "--absolute-git-dir"], cwd=repo, timeout=timeout)
    found: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="nestr-unpack-") as tmp:
        for blob in ids:
            name = await run_git(
                [f"--git-dir={git_dir.stdout.strip()}", "unpack-file", blob],
                cwd=Path(tmp),
                timeout=timeout,
                check=False,
            )
            if name.returncode != 0:  # not in the repo's objects
                continue
            data = (Path(tmp) / name.stdout.strip()).read_bytes()
            if blob_id(data) == blob:
                found[blob] = data
    return found


def _parse_batch(data: bytes) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    pos = 0
    try:
        while pos < len(data):
            end = data.index(b"\n", pos)
            header = data[pos:end].decode().split()
            pos = end + 1
            if len(header) == 3:  # "<id> <type> <size>"; a missing object has 2 fields
                size = int(header[2])
                if header[1] == "blob":
                    found[header[0]] = data[pos : pos + size]
                pos += size + 1
    except ValueError:  # the stream no longer lines up (see read_blobs): keep what was read
        pass
    return found


async def write_blobs(
    repo: Path, contents: Iterable[bytes], *, files: Iterable[Path] = (), timeout: float
) -> None:
    """Store ``contents``, and the bytes of ``files``, as blobs in ``repo`` (one git process).

    ``files`` saves a temporary copy when a base is exactly a file just written.
    """
    items, paths = list(contents), [str(f) for f in files]
    if not items and not paths:
        return
    with tempfile.TemporaryDirectory(prefix="nestr-blobs-") as tmp:
        for index, data in enumerate(items):
            path = Path(tmp) / str(index)
            path.write_bytes(data)
            paths.append(str(path))
        request = "".join(f"{p}\n" for p in paths).encode()
        await run_git(
            ["hash-object", "-w", "--no-filters", "--stdin-paths"],
            cwd=repo,
            timeout=timeout,
            input_bytes=request,
        )


async def pin_bases(repo: Path, ids: Iterable[str], *, timeout: float) -> None:
    """Point :data:`BASES_REF` at a tree holding every blob in ``ids`` so gc keeps them."""
    entries = "".join(f"100644 blob {i}\t{i}\n" for i in sorted(set(ids)))
    tree = await run_git(["mktree"], cwd=repo, timeout=timeout, input_bytes=entries.encode())
    await run_git(["update-ref", BASES_REF, tree.stdout.strip()], cwd=repo, timeout=timeout)
