"""Helpers of the TUI tests: a project whose workflows retry, fail and hang, run for real
through the CLI into the test's own store, and the app over that store."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nestr.config.settings import Settings
from nestr.session import Session
from nestr.tui.source import LocalSource

GUARD = 30.0  # seconds: a run that never shows up fails the test instead of hanging it

MANIFEST = """\
version: 1
repos: []
workflows:
  flaky:
    steps:
      - id: attempt
        shell: true
        run: test -f tried || { touch tried; echo first try fails; exit 1; }; echo fine now
        retry: {attempts: 2, backoff: fixed, initial: 0.1s}
      - id: report
        needs: [attempt]
        shell: true
        run: echo "count=3" >> "$NESTR_OUTPUT"; echo reported
  broken:
    steps:
      - id: boom
        shell: true
        run: echo about to fail; exit 3
  patient:
    steps:
      - id: again
        shell: true
        run: test -f tried || { touch tried; exit 1; }; echo second try
        retry: {attempts: 2, backoff: fixed, initial: 4s, jitter: false}
  gated:
    steps:
      - id: gate
        shell: true
        run: test -f open || { echo the gate is shut; exit 1; }; echo through
  ticker:
    steps:
      - id: tick
        shell: true
        run: for i in $(seq 1 40); do echo "tick $i"; sleep 0.05; done
  slow:
    steps:
      - id: wait
        shell: true
        run: echo waiting; sleep 60
"""


class Project:
    """A manifest directory and the store the CLI records its runs in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "nestr.yaml").write_text(MANIFEST, encoding="utf-8")

    def nestr(self, *args: str) -> int:
        """Run the CLI in-process in the project (what `nestr ARGS` does)."""
        from nestr.cli.main import main

        return main(["-C", str(self.root), *args])

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start a real `nestr ARGS` process in the project."""
        return subprocess.Popen(
            [sys.executable, "-m", "nestr", "-C", str(self.root), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def source(self) -> LocalSource:
        return LocalSource(Session(Settings(), cwd=self.root))

    def status_of(self, workflow: str) -> str | None:
        """The recorded status of the newest run of ``workflow`` (None: no run yet)."""
        db = Settings().state_dir / "nestr.db"
        if not db.exists():
            return None
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                "SELECT status FROM runs WHERE workflow=? ORDER BY created DESC LIMIT 1",
                (workflow,),
            ).fetchone()
        return None if row is None else str(row[0])

    def wait_for(self, workflow: str, status: str) -> None:
        """Until the newest run of ``workflow`` is recorded ``status``."""
        deadline = time.monotonic() + GUARD
        while self.status_of(workflow) != status:  # another process writes it: poll
            if time.monotonic() > deadline:
                pytest.fail(f"{workflow} never became {status}: {self.status_of(workflow)}")
            time.sleep(0.05)
