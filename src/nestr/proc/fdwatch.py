"""Readiness of one child's descriptors (its pidfd and output pipes), watched by the event loop.

Where epoll exists, the descriptors go into an epoll instance of the child's own, and the loop
watches that one descriptor: a child costs one ``add_reader``/``remove_reader`` pair instead of
three, and its exit and end of output are handled in one callback. Each ``add_reader`` looks
the descriptor up in the selector's map first and registers it in the handler of the
``KeyError``, which costs more than the handful of system calls the epoll instance adds.
Elsewhere each descriptor is registered with the loop directly.
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import Callable


class LoopWatch:
    """Descriptors registered with the loop one by one (where there is no epoll)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def add(self, fd: int, ready: Callable[[], None]) -> None:
        """Call ``ready()`` whenever ``fd`` is readable, until :meth:`remove`."""
        self._loop.add_reader(fd, ready)

    def remove(self, fd: int) -> None:
        """Stop watching ``fd`` (before it is closed)."""
        self._loop.remove_reader(fd)


class EpollWatch:
    """Descriptors in an epoll instance of their own; the loop watches the instance.

    The instance is closed when its last descriptor is removed; a descriptor added after that
    gets a new one.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._epoll: select.epoll | None = None
        self._ready: dict[int, Callable[[], None]] = {}

    def add(self, fd: int, ready: Callable[[], None]) -> None:
        """Call ``ready()`` whenever ``fd`` is readable, until :meth:`remove`."""
        if self._epoll is None:
            self._epoll = select.epoll()
            self._loop.add_reader(self._epoll.fileno(), self._dispatch)
        self._epoll.register(fd, select.EPOLLIN)
        self._ready[fd] = ready

    def remove(self, fd: int) -> None:
        """Stop watching ``fd`` (before it is closed)."""
        if self._ready.pop(fd, None) is None or self._epoll is None:
            return
        self._epoll.unregister(fd)
        if not self._ready:
            self._loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
            self._epoll = None

    def _dispatch(self) -> None:
        # Level-triggered: a pipe with more to read than one read takes stays ready, and the
        # loop calls back again on its next turn.
        epoll = self._epoll
        if epoll is None:
            return
        for fd, _ in epoll.poll(0):
            ready = self._ready.get(fd)
            if ready is not None:  # removed by an earlier callback of this batch
                ready()


Watch = LoopWatch | EpollWatch


def new_watch(loop: asyncio.AbstractEventLoop) -> Watch:
    """The watch for one child's descriptors on ``loop``."""
    return EpollWatch(loop) if hasattr(select, "epoll") else LoopWatch(loop)
