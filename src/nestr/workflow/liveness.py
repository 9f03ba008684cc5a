"""Whether the process that owns a run is still there, and how a run is shown because of it.

A run is recorded ``running`` by the process that runs it, which writes a heartbeat every
:data:`HEARTBEAT_EVERY` seconds. When that process dies, nothing rewrites the status: the run
is *shown* ``interrupted``. On the owner's own host its pid decides (a zombie counts as dead);
elsewhere, a heartbeat older than :data:`STALE_AFTER` does. An owner that stops a run for a
shutdown gives it up (no pid, no heartbeat: ``RunStore.release_run``), so it shows
``interrupted`` at once, even while that process is still exiting. The store keeps plain records;
this rule is the engine's (a Temporal executor will answer it from its own history).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from nestr.store.records import RunRecord, ShownRunStatus

HEARTBEAT_EVERY = 5.0
# A running run whose owner has not written a heartbeat for this long counts as interrupted,
# even when its pid cannot be checked (another host).
STALE_AFTER = 30.0
# On the owner's own host the pid decides; a heartbeat this old means the pid was reused.
LOCAL_STALE_AFTER = 600.0


def owner_alive(record: RunRecord, now: float | None = None) -> bool:
    """Whether the process that runs ``record`` is still there (pid on this host, else
    heartbeat)."""
    now = time.time() if now is None else now
    if record.owner_host == socket.gethostname() and record.owner_pid:
        fresh = record.heartbeat is None or now - record.heartbeat < LOCAL_STALE_AFTER
        return fresh and _pid_alive(record.owner_pid)
    return record.heartbeat is not None and now - record.heartbeat < STALE_AFTER


def shown_status(record: RunRecord, now: float | None = None) -> ShownRunStatus:
    """``interrupted`` for a run left ``running`` by a process that died; else its status."""
    if record.status in {"running", "pending"} and not owner_alive(record, now):
        return "interrupted"
    return record.status


def run_dict(record: RunRecord) -> dict[str, Any]:
    """The JSON shape of a run (``nestr runs list/show --json``), with the status shown."""
    return {**record.to_dict(), "status": shown_status(record)}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        return stat.rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
