"""Process groups nestr starts (steps, foreach commands, git) end when nestr ends, even by SIGKILL.

Each child runs in a session of its own, so its pid is its process group id. :func:`watch` tells
a helper process (:mod:`nestr.proc._guardian`, started once per nestr process, before its first
child) about the group, :func:`release` tells it the group is over. When nestr exits or is
killed, the helper sees the end of its pipe and ends every group still listed: SIGTERM, then
SIGKILL. Every child also carries the helper's mark in its environment (:func:`marked`): when
nestr is killed, the helper also ends the group of every process that carries it, so a child
started a moment before nestr could tell of it is ended too. The helper notes each leader's
start time when it reads of the group, so an id the system has since given to another process
is never signalled.

Telling the helper is one ``write`` of a few bytes per start and per end, which wakes nobody (the
helper reads its pipe ten times a second); starting it costs one interpreter start (about 20 ms
of CPU, on another core) once per nestr process. Where it cannot start (no ``/proc``, no
interpreter), children are watched by their own parent only.

:func:`signal_group` and :func:`kill_group` are the one way nestr signals a group it started
(steps, foreach commands, git, and the helper itself); this module imports neither asyncio nor
subprocess, so the blocking git runner can use it without paying for them.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nestr.proc._guardian import MARK, end_groups, signal_group, start_ticks

__all__ = [
    "Group",
    "arm",
    "boot_id",
    "end_groups",
    "identify",
    "kill_group",
    "marked",
    "release",
    "signal_group",
    "start_ticks",
    "watch",
]


@dataclass(frozen=True)
class Group:
    """A process group as the store records it: its id (the leader's pid) and the leader's
    start time (clock ticks since boot, field 22 of ``/proc/PID/stat``)."""

    pgid: int
    start: int


def identify(pgid: int) -> Group | None:
    """The group led by ``pgid`` with its leader's start time; None once the leader is gone.

    Reading ``/proc/PID/stat`` of a process in the middle of its ``exec`` waits for the exec
    (about 0.4 ms measured), so this is for a process that has run a while.
    """
    start = start_ticks(pgid)
    return None if start is None else Group(pgid, start)


class _Guardian:
    """The helper of this process, and the groups it was told about (to tell a new one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._groups: set[int] = set()
        self._broken = False
        self.token = ""

    def watch(self, pgid: int) -> None:
        with self._lock:
            self._groups.add(pgid)
            self._send(b"+%d\n" % pgid)

    def arm(self) -> None:
        with self._lock:
            if self._fd is None:
                self._fd = self._start()

    def watched(self) -> list[int]:
        with self._lock:
            return sorted(self._groups)

    def release(self, pgid: int) -> None:
        with self._lock:
            if pgid in self._groups:
                self._groups.discard(pgid)
                self._send(b"-%d\n" % pgid)

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

    def exiting(self) -> None:
        """nestr exits normally: the helper ends what is still listed, and looks no further."""
        with self._lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.write(self._fd, b"=\n")

    def _listing(self) -> bytes:
        return b"".join(b"+%d\n" % pgid for pgid in self._groups)

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
        token = os.urandom(8).hex()
        script = str(Path(__file__).with_name("_guardian.py"))
        try:
            os.posix_spawn(
                sys.executable,
                [sys.executable, "-S", "-I", script, token],
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
        self._fd, self.token = write_end, token
        return write_end


_GUARDIAN = _Guardian()
os.register_at_fork(after_in_child=_GUARDIAN.forked)
atexit.register(_GUARDIAN.exiting)


def arm() -> None:
    """Start the helper (once) before starting a child, so that the moment between the child's
    start and :func:`watch` is as short as it can be: one read of ``/proc`` and one write."""
    _GUARDIAN.arm()


def marked(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the mark of this process's helper (after :func:`arm`), for a child to start:
    if nestr is killed before it could :func:`watch` the child, the helper finds it by it."""
    token = _GUARDIAN.token
    return {**env, MARK: token} if token else dict(env)


def watch(pid: int) -> int:
    """Have the group led by ``pid`` (just started, in a new session) ended if nestr dies while
    it runs; returns its id, to :func:`release` once the group is over."""
    _GUARDIAN.watch(pid)
    return pid


def kill_group(pgid: int) -> None:
    """SIGKILL every process of group ``pgid`` (a timeout or cancel that grants no grace)."""
    signal_group(pgid, signal.SIGKILL)


def kill_watched() -> None:
    """SIGKILL every group this process started that is not over yet: a process that must
    stop at once (a second signal during a server's drain) and that would otherwise wait for
    each group's grace period. Whoever waits for a group sees its leader end."""
    for pgid in _GUARDIAN.watched():
        kill_group(pgid)


def release(pgid: int | None) -> None:
    """The group is over (killed, or its leader has ended and nothing else is to be watched)."""
    if pgid is not None:
        _GUARDIAN.release(pgid)


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
