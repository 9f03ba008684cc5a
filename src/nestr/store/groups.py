"""Process groups of attempts: recorded once started, so that a resume or a cancel can end what
an owner that died left running before anything runs again.

A group is recorded by its id, its leader's start time (clock ticks since boot, field 22 of
``/proc/PID/stat``) and the boot it started in, so that an id the system has since given to
another process is never signalled (see :mod:`nestr.proc.groups`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from nestr.events.envelope import Event
from nestr.store.db import Database


@dataclass(frozen=True)
class GroupStarted:
    """A process group an attempt started, as a group-commit record."""

    run_id: str
    key: str
    attempt: int
    pgid: int
    start: int
    boot: str

    def __call__(self, conn: sqlite3.Connection) -> list[Event]:
        return write_groups(conn, [self])


def write_groups(conn: sqlite3.Connection, groups: Sequence[GroupStarted]) -> list[Event]:
    """Record several groups with one statement (a layer's processes start in the same turn)."""
    conn.executemany(
        "INSERT OR IGNORE INTO processes (run_id, key, attempt, pgid, start, boot)"
        " VALUES (?,?,?,?,?,?)",
        [(g.run_id, g.key, g.attempt, g.pgid, g.start, g.boot) for g in groups],
    )
    return []


def open_groups(db: Database, run_id: str, boot: str) -> list[tuple[str, int, int]]:
    """``(key, pgid, start)`` of the groups of attempts of ``run_id`` that never recorded an end
    (``running``, or ``interrupted`` by a resume), started during ``boot``."""
    rows = db.query(
        "SELECT p.key, p.pgid, p.start FROM processes p JOIN attempts a"
        " ON a.run_id=p.run_id AND a.key=p.key AND a.attempt=p.attempt"
        " WHERE p.run_id=? AND p.boot=? AND a.status IN ('running', 'interrupted')",
        (run_id, boot),
    )
    return [(r[0], r[1], r[2]) for r in rows]
