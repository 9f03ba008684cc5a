"""Logs kept in another store: a Temporal worker's, whose steps a submitter's run recorded.

A worker keeps the captured output of the tries it runs in its own store (``state_dir``); the
submitter knows where from the step's record, and reads it here, read-only, when that store
is reachable from this host (the worker runs on it, or its state dir is shared).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection
from pathlib import Path

from nestr.store.db import BUSY_TIMEOUT_MS, DB_FILE
from nestr.store.records import LogRecord


def logs_in(state_dir: Path, run_id: str, keys: Collection[str]) -> list[LogRecord] | None:
    """The logs of the instances ``keys`` of run ``run_id`` kept in the store at
    ``state_dir``, or None when there is no readable store there."""
    path = state_dir / DB_FILE
    if not path.is_file():
        return None
    sql = (
        "SELECT key, attempt, stream, text, truncated FROM logs"
        " WHERE run_id=? ORDER BY key, attempt, stream DESC"
    )
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        with contextlib.closing(connection) as conn:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            rows = conn.execute(sql, (run_id,)).fetchall()
    except sqlite3.Error:
        return None
    return [LogRecord(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows if r[0] in keys]
