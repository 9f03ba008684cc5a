"""Ends the process groups nestr started once nestr is gone; also run as a script (stdlib only).

nestr starts this file as a helper process (``python -S -I _guardian.py``) in a session of its
own, with the read end of a pipe as its stdin, and writes ``+PGID START`` when it starts a process
group and ``-PGID START`` when that group is over, one line each. End of file means nestr has
exited or was killed (even by SIGKILL, since the kernel closes the write end): every group still
listed gets SIGTERM, and SIGKILL after a grace period. Unlike ``PR_SET_PDEATHSIG``, which reaches
only the direct child and costs an exec or a ``fork`` per start, this ends whole groups: a step's
background children too.

START is the group leader's start time (field 22 of ``/proc/PID/stat``, clock ticks since boot).
A number whose leader is gone cannot be reused while its group still has members, so a group is
left alone only when ``/proc/PGID`` shows another process (the number was freed and reused).
The functions below are shared with :mod:`nestr.procgroups`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterable

GRACE = 2.0  # seconds between SIGTERM and SIGKILL
POLL = 0.02


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (ticks since boot), or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:  # noqa: PTH123 - one read, no Path
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19])  # field 22; the split starts at field 3


def is_ours(pgid: int, start: int) -> bool:
    """Whether the group ``pgid`` may still be the one whose leader started at ``start``."""
    now = start_ticks(pgid)
    return now is None or now == start


def alive(pgid: int) -> bool:
    """Whether group ``pgid`` has a member that is not a zombie (a zombie runs nothing)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(_member_running(pid, pgid) for pid in _pids())


def end_groups(
    groups: Iterable[tuple[int, int]], grace: float = GRACE, wait: float = 10.0
) -> list[int]:
    """SIGTERM each group still ours, SIGKILL what is left after ``grace`` seconds, and wait up to
    ``wait`` more seconds for the groups to be empty; return the groups still alive then."""
    ours = [pgid for pgid, start in groups if is_ours(pgid, start) and alive(pgid)]
    for pgid in ours:
        _signal(pgid, signal.SIGTERM)
    left = _wait(ours, grace)
    for pgid in left:
        _signal(pgid, signal.SIGKILL)
    return _wait(left, wait)


def _wait(groups: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while True:
        groups = [pgid for pgid in groups if alive(pgid)]
        if not groups or time.monotonic() >= deadline:
            return groups
        time.sleep(POLL)


def _signal(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]  # noqa: PTH208


def _member_running(pid: int, pgid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:  # noqa: PTH123 - one read, no Path
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return int(fields[2]) == pgid and fields[0] not in {b"Z", b"X"}


def read_groups(fd: int) -> dict[int, int]:
    """Follow the ``+``/``-`` lines on ``fd`` until end of file; the groups still listed."""
    groups: dict[int, int] = {}
    pending = b""
    while chunk := os.read(fd, 65536):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            pgid, start = (int(part) for part in line[1:].split())
            if line[:1] == b"+":
                groups[pgid] = start
            elif groups.get(pgid) == start:
                del groups[pgid]
    return groups


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    grace = float(sys.argv[1]) if len(sys.argv) > 1 else GRACE
    end_groups(read_groups(0).items(), grace)


if __name__ == "__main__":
    main()
