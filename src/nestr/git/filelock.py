"""Advisory file locks between nestr processes (``fcntl.flock``), safe to wait for in asyncio.

A blocking ``flock`` would stall the event loop, and one parked in a thread cannot be cancelled;
so waiting is a polling loop of non-blocking attempts with a capped, growing pause. The lock
belongs to the open file description, so it is released when the process dies (kill -9
included): a crashed nestr never leaves a mirror locked.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

_FIRST_PAUSE = 0.01
_MAX_PAUSE = 0.2


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def _try(fd: int, shared: bool) -> bool:
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _still_at(fd: int, path: Path) -> bool:
    """Whether the locked file is still the one at ``path``.

    A holder may unlink its lock file (a mirror whose first clone failed leaves none behind);
    whoever was waiting on the old file then holds a lock nobody else can see, and must retry
    on the file now at ``path``.
    """
    try:
        here = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (here.st_dev, here.st_ino)


def _reopen(fd: int, path: Path) -> int:
    new = _open(path)
    os.close(fd)
    return new


@contextlib.asynccontextmanager
async def file_lock(path: Path, *, shared: bool = False) -> AsyncIterator[None]:
    """Hold ``flock`` on ``path`` (created if missing) for the block; waits without blocking."""
    fd = _open(path)
    try:
        pause = _FIRST_PAUSE
        while True:
            if _try(fd, shared):
                if _still_at(fd, path):
                    break
                fd = _reopen(fd, path)  # the file we locked was unlinked: lock the new one
                continue
            await asyncio.sleep(pause)
            pause = min(pause * 2, _MAX_PAUSE)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def try_file_lock(path: Path, *, shared: bool = False) -> Iterator[bool]:
    """Try once to take the lock; yields whether it was taken (held for the block if so)."""
    fd = _open(path)
    try:
        taken = _try(fd, shared)
        if taken and not _still_at(fd, path):  # unlinked by its holder meanwhile: once more
            fd = _reopen(fd, path)
            taken = _try(fd, shared)
        yield taken
    finally:
        os.close(fd)
