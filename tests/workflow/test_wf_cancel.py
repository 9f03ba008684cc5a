"""Cancellation: in-process, by signal, and by `nestr runs cancel` from another process; no
process of a cancelled step survives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nestr.workflow import ExecutorOptions

HANGING = """
wf:
  steps:
    - id: hang
      shell: true
      run: >-
        while [ ! -e other.done ]; do sleep 0.01; done;
        sleep 60 & echo $$ > hang.pid; trap '' TERM; wait
    - {id: after, needs: [hang], run: touch after.ran}
    - {id: other, run: touch other.done}
"""


def _group_members(pgid: int) -> list[int]:
    """Pids of live processes whose process group is ``pgid`` (read from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] not in {"Z", "X"} and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _describe(pids: list[int]) -> str:
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            cmd, stat = "?", "?"
        out.append(f"{pid}: {cmd!r} {stat}")
    return "\n".join(out)


def _status(state_dir: Path, key: str) -> str | None:
    import sqlite3

    conn = sqlite3.connect(state_dir / "nestr.db")
    try:
        row = conn.execute("SELECT status FROM steps WHERE key=?", (key,)).fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def _wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_cancel_in_process_kills_the_group_and_cancels_pending(project, status_of) -> None:
    """Cancelling a run kills the running step's whole process group (a background child and a
    TERM-ignoring shell included), marks pending steps cancelled, and ends the run cancelled."""
    project.write(HANGING)
    pid_file = project.root / "hang.pid"

    def hanging_and_other_done() -> bool:
        if not (pid_file.exists() and pid_file.read_text().strip()):
            return False
        return _status(project.state_dir, "other") == "succeeded"

    result = project.run(
        "wf", options=ExecutorOptions(kill_grace=0.3), cancel_when=hanging_and_other_done
    )
    assert result.status == "cancelled"
    assert result.exit_code == 130
    assert status_of(result) == {"hang": "cancelled", "after": "cancelled", "other": "succeeded"}
    left = _group_members(int(pid_file.read_text()))
    assert left == [], _describe(left)
    assert not (project.root / "after.ran").exists()


def _start_cli_run(project, *args: str) -> subprocess.Popen[bytes]:
    with (project.root / "run.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "nestr", "run", "wf", "-m", str(project.manifest_path), *args],
            cwd=project.root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def test_runs_cancel_from_another_process(project, nestr) -> None:
    """`nestr runs cancel RUN` writes a request the running `nestr run` observes: its step's
    processes are killed and it exits 130 with the run recorded cancelled."""
    project.write(HANGING)
    proc = _start_cli_run(project)
    try:
        _wait_for(project.root / "hang.pid")
        listed = nestr("runs", "list", "--json")
        run_id = json.loads(listed.out)[0]["id"]
        cancelled = nestr("runs", "cancel", run_id[:6])
        assert cancelled.code == 0, cancelled
        assert proc.wait(timeout=30) == 130, (project.root / "run.log").read_text()
    finally:
        proc.kill()
        proc.wait()
    shown = json.loads(nestr("runs", "show", run_id, "--json").out)
    assert shown["status"] == "cancelled"
    assert {s["key"]: s["status"] for s in shown["steps"]}["hang"] == "cancelled"
    left = _group_members(int((project.root / "hang.pid").read_text()))
    assert left == [], _describe(left)


def test_sigterm_on_nestr_run_cancels(project, nestr) -> None:
    """SIGTERM to `nestr run` cancels the run like Ctrl-C: exit 130, no step process left."""
    project.write(HANGING)
    proc = _start_cli_run(project)
    try:
        _wait_for(project.root / "hang.pid")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 130, (project.root / "run.log").read_text()
    finally:
        proc.kill()
        proc.wait()
    left = _group_members(int((project.root / "hang.pid").read_text()))
    assert left == [], _describe(left)
    listed = json.loads(nestr("runs", "list", "--json").out)
    assert listed[0]["status"] == "cancelled"


def test_cancel_records_steps_waiting_for_a_slot_or_a_retry(project, status_of) -> None:
    """Steps queued behind the concurrency limit or sleeping before a retry are recorded
    cancelled too, never left pending or running in the store."""
    project.write(
        """
        wf:
          concurrency: 2
          steps:
            - {id: hang, shell: true, run: "echo $$ > hang.pid; exec sleep 30"}
            - id: flaky
              retry: {attempts: 3, initial: 60s, jitter: false}
              run: "false"
            - {id: queued, run: "true"}
        """
    )
    pid_file = project.root / "hang.pid"
    store_path = project.state_dir / "nestr.db"

    def ready() -> bool:
        import sqlite3

        if not (pid_file.exists() and pid_file.read_text().strip()):
            return False
        conn = sqlite3.connect(store_path)
        try:  # flaky's first attempt failed: it now sleeps before its retry, holding a slot
            failed = conn.execute(
                "SELECT 1 FROM attempts WHERE key='flaky' AND status='failed'"
            ).fetchone()
        finally:
            conn.close()
        return failed is not None

    result = project.run("wf", options=ExecutorOptions(kill_grace=0.3), cancel_when=ready)
    assert status_of(result) == {"hang": "cancelled", "flaky": "cancelled", "queued": "cancelled"}
    assert result.status == "cancelled"
