"""Process groups nestr starts (steps, foreach commands, git) end when nestr ends, even by SIGKILL.

Each child runs in a session of its own, so its pid is its process group id. :func:`watch` tells
a helper process (:mod:`nestr._guardian`, started on first use, one per nestr process) about the
group, :func:`release` tells it the group is over. When nestr exits or is killed, the helper sees
the end of its pipe and ends every group still listed: SIGTERM, then SIGKILL. A group is named by
its id *and* its leader's start time (:class:`Group`), so an id the system has since given to
another process is never signalled.

Telling the helper is one ``write`` of a few bytes per start and per end; starting it costs one
interpreter start (about 20 ms of CPU on another core) once per nestr process. Where it cannot
start (no ``/proc``, no interpreter), children are watched by their own parent only, as before.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from nestr._guardian import end_groups, start_ticks

__all__ = ["Group", "arm", "boot_id", "end_groups", "release", "watch"]


@dataclass(frozen=True)
class Group:
    """A process group: its id (the leader's pid) and the leader's start time (ticks)."""

    pgid: int
    start: int


class _Guardian:
    """The helper of this process, and the groups it was told about (to tell a new one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._groups: set[Group] = set()
        self._broken = False

    def watch(self, group: Group) -> None:
        with self._lock:
            self._groups.add(group)
            self._send(b"+%d %d\n" % (group.pgid, group.start))

    def arm(self) -> None:
        with self._lock:
            if self._fd is None:
                self._fd = self._start()

    def release(self, group: Group) -> None:
        with self._lock:
            if group in self._groups:
                self._groups.discard(group)
                self._send(b"-%d %d\n" % (group.pgid, group.start))

    def _send(self, line: bytes) -> None:
        fd = self._fd
        if fd is None:
            fd = self._start()
            if fd is None:
                return
            line = self._listing() + line
        try:
            os.write(fd, line)
        except OSError:  # the helper is gone (killed): a new one is told every live group
            os.close(fd)
            self._fd = None
            fd = self._start()
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.write(fd, self._listing())

    def _listing(self) -> bytes:
        return b"".join(b"+%d %d\n" % (g.pgid, g.start) for g in self._groups)

    def forked(self) -> None:
        """In a child made by ``fork``: its groups are its own, and so is its helper."""
        self._lock = threading.Lock()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None
        self._groups = set()

    def _start(self) -> int | None:
        if self._broken or not sys.executable or not Path("/proc/self/stat").exists():
            return None
        read_end, write_end = os.pipe()  # both close on exec: no child holds the write end
        try:
            os.posix_spawn(
                sys.executable,
                [sys.executable, "-S", "-I", str(Path(__file__).with_name("_guardian.py"))],
                {},  # it needs no environment, and is given none of nestr's (secrets)
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, read_end, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
                setsid=True,  # out of reach of signals sent to nestr's own process group
            )
        except OSError:
            os.close(write_end)
            self._broken = True
            return None
        finally:
            os.close(read_end)
        self._fd = write_end
        return write_end


_GUARDIAN = _Guardian()
os.register_at_fork(after_in_child=_GUARDIAN.forked)


def arm() -> None:
    """Start the helper (once) before starting a child, so that the moment between the child's
    start and :func:`watch` is as short as it can be: one read of ``/proc`` and one write."""
    _GUARDIAN.arm()


def watch(pid: int) -> Group | None:
    """Have the group led by ``pid`` (just started, in a new session) ended if nestr dies first.

    Returns the group, to :func:`release` once it is over (None when ``pid`` is already gone).
    """
    start = start_ticks(pid)
    if start is None:
        return None
    group = Group(pid, start)
    _GUARDIAN.watch(group)
    return group


def release(group: Group | None) -> None:
    """The group is over (killed, or its leader reaped and nothing else left to watch)."""
    if group is not None:
        _GUARDIAN.release(group)


_BOOT: str | None = None


def boot_id() -> str:
    """This boot of this machine (a group recorded during another boot is long gone)."""
    global _BOOT  # noqa: PLW0603 - read once per process
    if _BOOT is None:
        try:
            _BOOT = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        except OSError:
            _BOOT = ""
    return _BOOT
