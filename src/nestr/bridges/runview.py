"""What a bridge step reads of its run: earlier steps' outputs, statuses and log tails.

Read from the run's store in ``state_dir`` (read-only, opened on first use and once), the same
whoever runs the step: the in-process adapter (:mod:`nestr.bridges.steps`) and the
out-of-process plugins (:mod:`nestr.bridges.served`, which get ``state_dir`` in each
``Execute`` request). A step driven alone (``nestr.testing.run_step``, ``nestr plugin check``)
has no store behind it and sees no earlier steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from nestr.store.db import DB_FILE, Database
from nestr.store.runs import RunStore


class RunView:
    """The run ``run_id`` as step instance ``key`` sees it (its own record left out)."""

    def __init__(self, state_dir: Path | None, run_id: str, key: str) -> None:
        self._state_dir, self._run_id, self._key = state_dir, run_id, key
        self._db: Database | None = None
        self._steps: tuple[dict[str, Mapping[str, str]], dict[str, str]] | None = None

    def outputs(self) -> Mapping[str, Mapping[str, str]]:
        return self._records()[0]

    def statuses(self) -> Mapping[str, str]:
        return self._records()[1]

    def log_tail(self, key: str, lines: int = 20) -> str:
        store = self._store()
        if store is None:
            return ""
        records = [r for r in store.logs(self._run_id, key) if r.key == key]
        latest = max((r.attempt for r in records), default=0)
        text = "".join(r.text for r in records if r.attempt == latest)
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _records(self) -> tuple[dict[str, Mapping[str, str]], dict[str, str]]:
        if self._steps is None:
            store = self._store()
            records = store.steps(self._run_id) if store is not None else []
            self._steps = (
                {r.key: r.outputs for r in records if r.key != self._key},
                {r.key: r.status for r in records if r.key != self._key},
            )
        return self._steps

    def _store(self) -> RunStore | None:
        if not self._run_id or self._state_dir is None:
            return None
        if not (self._state_dir / DB_FILE).exists():
            return None
        if self._db is None:
            from nestr.store.db import open_database

            self._db = open_database(self._state_dir)
        return RunStore(self._db)
