"""Ends the process groups nestr started once nestr is gone; also run as a script (stdlib only).

nestr starts this file as a helper process (``python -S -I _guardian.py``) in a session of its
own, with the read end of a pipe as its stdin, and writes ``+PGID`` when it starts a process
group and ``-PGID`` when that group is over, one line each. End of file means nestr has
exited or was killed (even by SIGKILL, since the kernel closes the write end): every group still
listed gets SIGTERM, and SIGKILL after a grace period. Unlike ``PR_SET_PDEATHSIG``, which reaches
only the direct child and costs an exec or a ``fork`` per start, this ends whole groups: a step's
background children too.

Telling comes a moment after the start (the child may already run by then, nestr may be killed
in between), so every child also carries ``NESTR_GUARD=<token>`` in its environment; when nestr
did not say it exits normally (``=``), the helper also ends the groups of every process that
carries the mark, which catches that moment too.

The helper notes each leader's start time (field 22 of ``/proc/PID/stat``, clock ticks since
boot) when it reads of the group. A number whose leader is gone cannot be reused while its group
still has members, so a group is left alone only when ``/proc/PGID`` shows a process that started
at another time (the number was freed and reused).
The functions below are shared with :mod:`nestr.proc.groups`; :func:`signal_group` is the one
place nestr signals a process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterable

MARK = "NESTR_GUARD"  # in the environment of every child nestr starts: its helper's token
GRACE = 2.0  # seconds between SIGTERM and SIGKILL
POLL = 0.02  # seconds between looks at groups being ended
NAP = 0.1  # seconds between reads of the pipe (how soon nestr's death is noticed)


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (ticks since boot), or None when there is no such process."""
    fields = _stat(pid)
    return None if fields is None else int(fields[19])  # field 22; the split starts at field 3


def _stat(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/PID/stat`` from the third on (bare system calls: a file object
    would cost as much again)."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096).rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    finally:
        os.close(fd)


def is_ours(pgid: int, start: int | None) -> bool:
    """Whether the group ``pgid`` may still be the one whose leader started at ``start`` (None:
    a leader already gone when the group was first seen)."""
    now = start_ticks(pgid)
    return now is None or now == start


def _alive(groups: list[int]) -> list[int]:
    """The groups among ``groups`` with a member that is not a zombie (a zombie runs nothing;
    one look at ``/proc`` for all of them)."""
    found = []
    for pgid in groups:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        found.append(pgid)
    if not found:
        return []
    running = set()
    for pid in _pids():
        fields = _stat(pid)
        if fields is not None and fields[0] not in {b"Z", b"X"}:
            running.add(int(fields[2]))
    return [pgid for pgid in found if pgid in running]


def end_groups(
    groups: Iterable[tuple[int, int | None]], grace: float = GRACE, wait: float = 10.0
) -> list[int]:
    """SIGTERM each group still ours, SIGKILL what is left after ``grace`` seconds, and wait up to
    ``wait`` more seconds for the groups to be empty; return the groups still alive then."""
    ours = _alive([pgid for pgid, start in groups if is_ours(pgid, start)])
    for pgid in ours:
        signal_group(pgid, signal.SIGTERM)
    left = _wait(ours, grace)
    for pgid in left:
        signal_group(pgid, signal.SIGKILL)
    return _wait(left, wait)


def _wait(groups: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while True:
        groups = _alive(groups)
        if not groups or time.monotonic() >= deadline:
            return groups
        time.sleep(POLL)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to every process of group ``pgid``; a group already gone (or no longer ours
    to signal) is no error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]  # noqa: PTH208


def read_groups(fd: int, every: float = NAP) -> tuple[dict[int, int | None], bool]:
    """Follow the ``+PGID``/``-PGID`` lines on ``fd`` until end of file: the groups still
    listed, each with its leader's start time as first seen (None: the leader was gone), and
    whether nestr said (``=``) that it exits normally.

    The pipe is read every ``every`` seconds, not as lines arrive: a reader blocked in ``read``
    is woken by each write, and on a busy machine that wake-up preempts nestr (it measured
    about 100 µs per step started). Lines wait in the pipe meanwhile. A leader is looked at
    here, not by nestr: ``/proc/PID/stat`` of a process in the middle of ``exec`` makes its
    reader wait.
    """
    os.set_blocking(fd, False)
    groups: dict[int, int | None] = {}
    pending = b""
    clean = False
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            time.sleep(every)
            continue
        if not chunk:
            return groups, clean
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            if line == b"=":
                clean = True
            elif line[:1] == b"+":
                groups[int(line[1:])] = start_ticks(int(line[1:]))
            else:
                groups.pop(int(line[1:]), None)


def marked_groups(token: str, spare: int) -> dict[int, int | None]:
    """The groups of every process whose environment holds ``NESTR_GUARD=token``, but
    ``spare``: the children nestr started, even one it had not yet told of, and what they
    started in sessions of their own."""
    needle = f"\0{MARK}={token}\0".encode()
    groups: dict[int, int | None] = {}
    for pid in _pids():
        fields = _stat(pid)
        if fields is None or int(fields[2]) in groups or int(fields[2]) == spare:
            continue
        if needle in b"\0" + _environ(pid):
            groups[int(fields[2])] = start_ticks(int(fields[2]))
    return groups


def _environ(pid: int) -> bytes:
    try:
        fd = os.open(f"/proc/{pid}/environ", os.O_RDONLY)
    except OSError:
        return b""
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        pass
    finally:
        os.close(fd)
    return b"".join(chunks)


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    token = sys.argv[1]
    try:
        spare = os.getpgid(os.getppid())  # nestr's own group: the user's shell job
    except OSError:
        spare = -1
    groups, clean = read_groups(0)
    if not clean:  # killed: a child may have started a moment before nestr could tell
        groups.update(marked_groups(token, spare))
    groups.pop(spare, None)
    end_groups(groups.items())


if __name__ == "__main__":
    main()
