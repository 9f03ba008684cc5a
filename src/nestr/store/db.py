"""One SQLite database file: created atomically, WAL, migrated by ``PRAGMA user_version``.

Writers take ``BEGIN IMMEDIATE`` so two processes never deadlock upgrading a read lock, and wait
on each other through ``busy_timeout``. WAL with ``synchronous=NORMAL`` makes a commit a write to
the WAL without fsync: a power loss may lose the last commits, never corrupt the file (SQLite's
documented trade-off), and a process crash loses nothing committed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from nestr.store.schema import MIGRATIONS

DB_FILE = "nestr.db"
BUSY_TIMEOUT_MS = 10_000


class Database:
    """A connection shared by the threads of one process, one transaction at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        with self.transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads (each statement sees one consistent snapshot)."""
        with self._lock:
            yield self._conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def data_version(self) -> int:
        """Changes when another connection commits (cheap: no table is read)."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_database(state_dir: Path) -> Database:
    """The store of ``state_dir``, created (atomically) and migrated if needed."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / DB_FILE
    if not path.exists():
        _create(path)
    return Database(path)


def _create(path: Path) -> None:
    """Build an empty, migrated database beside ``path`` and link it into place.

    ``os.link`` fails if another process created the file first; that file is then used.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".nestr-db.", suffix=".tmp")
    os.close(fd)
    try:
        Database(Path(tmp)).close()
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm"):
            Path(leftover).unlink(missing_ok=True)
