"""Mirror lock files: none left by a failed first clone, and unlinking one is safe."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nestr.errors import GitError, WorkFailed
from nestr.git import filelock
from nestr.git.filelock import file_lock, try_file_lock
from nestr.git.mirror import MirrorCache


def test_failed_first_clone_leaves_no_lock_file(tmp_path: Path) -> None:
    """A URL that cannot be cloned (or is not cached, offline) leaves nothing in mirrors/."""
    cache_dir = tmp_path / "c"
    with pytest.raises(GitError):
        asyncio.run(MirrorCache(cache_dir).ensure((tmp_path / "missing").as_uri()))
    with pytest.raises(WorkFailed, match="--offline"):
        asyncio.run(MirrorCache(cache_dir, offline=True).ensure((tmp_path / "other").as_uri()))
    assert sorted(p.name for p in (cache_dir / "mirrors").iterdir()) == []


def test_waiter_on_an_unlinked_lock_file_locks_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder may unlink its lock file: a process that waited on the old file must not
    believe it holds the lock while another holds the file now at that path."""
    lock = tmp_path / "m.lock"
    attempts: list[int] = []
    inside: list[bool] = []
    real_try = filelock._try
    tried = asyncio.Event()

    def counted(fd: int, shared: bool) -> bool:
        attempts.append(fd)
        tried.set()
        return real_try(fd, shared)

    monkeypatch.setattr(filelock, "_try", counted)

    async def waiter() -> None:
        async with file_lock(lock):
            inside.append(True)
            tried.set()

    async def until(count: int) -> None:
        """Until the waiter made ``count`` attempts in all, or got in."""
        while len(attempts) < count and not inside:
            tried.clear()
            await tried.wait()

    async def scenario() -> None:
        async with file_lock(lock):  # the holder
            task = asyncio.ensure_future(waiter())
            await until(2)  # the waiter opened the old file and tried it
            lock.unlink()
        with try_file_lock(lock) as taken:  # a newcomer takes the new file
            assert taken
            seen = len(attempts)
            await until(seen + 2)  # the waiter tried again, on the old file and the new one
            assert inside == []
        await task
        assert inside == [True]

    asyncio.run(scenario())
