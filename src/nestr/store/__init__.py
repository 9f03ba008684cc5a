"""The SQLite store: runs, steps, attempts, outputs, logs and events in ``<state_dir>/nestr.db``."""

from nestr.store.db import DB_FILE, Database, open_database
from nestr.store.records import AttemptRecord, LogRecord, RunRecord, StepRecord
from nestr.store.runs import RunStore

__all__ = [
    "DB_FILE",
    "AttemptRecord",
    "Database",
    "LogRecord",
    "RunRecord",
    "RunStore",
    "StepRecord",
    "open_database",
]
