"""Resume: from the run's record, never re-running a step recorded as succeeded; and a crash
test that SIGKILLs `nestr run` at random moments and resumes until the run finishes."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from nestr.store import RunStore, open_database
from nestr.workflow import resume_run
from nestr.workflow.liveness import shown_status


def test_resume_reruns_only_what_did_not_succeed(project, status_of) -> None:
    """After a failure, resume runs the failed step and its skipped dependents again, reuses
    the outputs of steps that succeeded, and works from the recorded definition even when the
    manifest changed since."""
    project.write(
        """
        wf:
          steps:
            - id: first
              shell: true
              run: echo first >> marker; echo token=abc >> "$NESTR_OUTPUT"
            - id: gate
              needs: [first]
              run: test -e allow
            - id: last
              needs: [gate]
              shell: true
              run: echo "last ${{ steps.first.outputs.token }}" >> marker
        """
    )
    failed = project.run("wf")
    assert status_of(failed) == {"first": "succeeded", "gate": "failed", "last": "skipped"}
    project.manifest_path.write_text("version: 1\nrepos: []\nworkflows: {}\n")  # gone now
    (project.root / "allow").touch()
    resumed = asyncio.run(resume_run(failed.run_id[:5], state_dir=project.state_dir))
    assert resumed.run_id == failed.run_id
    assert status_of(resumed) == {"first": "succeeded", "gate": "succeeded", "last": "succeeded"}
    assert (project.root / "marker").read_text() == "first\nlast abc\n"
    with open_database(project.state_dir) as db:
        attempts = [(a.key, a.attempt) for a in RunStore(db).attempts(failed.run_id)]
    assert sorted(attempts) == [("first", 1), ("gate", 1), ("gate", 2), ("last", 1)]


def test_resume_refuses_a_run_that_is_still_running(project, nestr) -> None:
    """A run whose owner process is alive cannot be resumed by another process."""
    project.write(
        """
        wf:
          steps:
            - {id: hang, shell: true, run: "echo $$ > pid; sleep 30"}
        """
    )
    with (project.root / "log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nestr", "run", "wf", "-m", str(project.manifest_path)],
            cwd=project.root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(project.root / "pid")
        run_id = json.loads(nestr("runs", "list", "--json").out)[0]["id"]
        result = nestr("runs", "resume", run_id)
        assert result.code == 2
        assert "still running" in result.err
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


STEPS = 200
SEED = 20261130


def _crash_workflow() -> str:
    lines = ["crash:", "  concurrency: 4", "  steps:"]
    for i in range(STEPS):
        needs = f", needs: [s{i - 20}]" if i >= 20 else ""
        lines.append(f'    - {{id: s{i}, shell: true, run: "echo s{i} >> marker"{needs}}}')
    return "\n".join(lines)


def _succeeded(db_path: Path) -> set[str]:
    if not db_path.exists():
        return set()
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT key FROM steps WHERE status='succeeded'").fetchall()
    return {r[0] for r in rows}


def _run_ids(db_path: Path) -> list[str]:
    if not db_path.exists():
        return []
    with sqlite3.connect(db_path) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM runs").fetchall()]


def _marker_lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_crash_and_resume_never_reruns_a_recorded_step(project) -> None:
    """SIGKILLed at seeded random moments and resumed until done, a 200-step run records every
    step succeeded exactly once; a step recorded succeeded before a kill never runs again; the
    database passes integrity_check."""
    project.write(_crash_workflow())
    rng = random.Random(SEED)
    db_path = project.state_dir / "nestr.db"
    marker = project.root / "marker"
    env_state = {"NESTR_STATE_DIR": str(project.state_dir)}
    kills, code = 0, None
    while code != 0:
        ids = _run_ids(db_path)
        command = ["runs", "resume", ids[0]] if ids else ["crash_run"]
        if command == ["crash_run"]:
            command = ["run", "crash", "-m", str(project.manifest_path), "-j", "4"]
        recorded_before = _succeeded(db_path)
        lines_before = len(_marker_lines(marker))
        # the kill moment: when the marker file reaches a seeded random number of lines
        target = rng.randint(lines_before, lines_before + STEPS // 3) if kills < 6 else None
        code = _segment(project.root, command, env_state, marker, target)
        kills += code is None
        if code is None and _run_ids(db_path):
            _assert_interrupted_unless_over(project.state_dir, _run_ids(db_path)[0])
        rerun = set(_marker_lines(marker)[lines_before:]) & recorded_before
        assert not rerun, f"steps recorded succeeded ran again: {sorted(rerun)}"
        assert code in {None, 0}, f"nestr exited {code}"
        assert kills < 20
    assert kills >= 3, f"the run was killed only {kills} times: the crash test proved little"
    assert len(_run_ids(db_path)) == 1
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT key, status FROM steps").fetchall()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(rows) == STEPS
    assert {status for _, status in rows} == {"succeeded"}
    counts = Counter(_marker_lines(marker))
    assert set(counts) == {f"s{i}" for i in range(STEPS)}


def _assert_interrupted_unless_over(state_dir: Path, run_id: str) -> None:
    """A run whose process was killed shows as interrupted (unless it had already ended)."""
    with open_database(state_dir) as db:
        record = RunStore(db).run(run_id)
    assert shown_status(record) in {"interrupted", "succeeded"}
    assert shown_status(record) == "succeeded" or record.status == "running"


def _segment(
    root: Path, command: list[str], env: dict[str, str], marker: Path, target: int | None
) -> int | None:
    """Run ``nestr COMMAND``; SIGKILL it once ``marker`` has ``target`` lines (None = killed)."""
    import os

    with (root / "segment.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nestr", *command],
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    try:
        if target is None:
            return proc.wait(timeout=60)
        deadline = time.monotonic() + 60
        while proc.poll() is None and len(_marker_lines(marker)) < target:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        if proc.poll() is not None:
            return proc.returncode
        proc.kill()
        proc.wait()
        return None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
