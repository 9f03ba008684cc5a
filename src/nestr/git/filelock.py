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


@contextlib.asynccontextmanager
async def file_lock(path: Path, *, shared: bool = False) -> AsyncIterator[None]:
    """Hold ``flock`` on ``path`` (created if missing) for the block; waits without blocking."""
    fd = _open(path)
    try:
        pause = _FIRST_PAUSE
        while not _try(fd, shared):
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
        yield _try(fd, shared)
    finally:
        os.close(fd)
