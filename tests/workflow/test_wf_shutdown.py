"""A shutdown stops a run without ending it: its steps' processes are killed, nothing is
recorded cancelled, and a resume finishes it without running a completed step again."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from nestr.manifest.loader import load_manifest
from nestr.store import RunStore, open_database
from nestr.workflow import ExecutorOptions, RunResult, resume_run, run_workflow
from nestr.workflow.liveness import shown_status

from .test_wf_cancel import _describe, _group_members

# ``other`` succeeds first; ``hang`` ignores SIGTERM and holds a background child; ``after``
# needs it. Each execution appends the step's name to ``ran``.
WORKFLOW = """
wf:
  steps:
    - id: hang
      shell: true
      run: >-
        echo hang >> ran;
        if [ -e go ]; then exit 0; fi;
        while [ ! -e other.done ]; do sleep 0.01; done;
        sleep 60 & echo $$ > hang.pid; trap '' TERM; wait
    - {id: after, needs: [hang], shell: true, run: "echo after >> ran"}
    - {id: other, shell: true, run: "echo other >> ran; touch other.done"}
"""


def _other_done_and_hang_waiting(root: Path, state_dir: Path) -> bool:
    pid_file = root / "hang.pid"
    if not (pid_file.exists() and pid_file.read_text().strip()):
        return False
    conn = sqlite3.connect(state_dir / "nestr.db")
    try:
        row = conn.execute("SELECT status FROM steps WHERE key='other'").fetchone()
    finally:
        conn.close()
    return row is not None and row[0] == "succeeded"


def _run_until_shutdown(project) -> RunResult:
    """Run ``wf`` and set its ``shutdown`` event once ``other`` succeeded and ``hang`` waits."""
    manifest = load_manifest(project.manifest_path)

    async def go() -> RunResult:
        shutdown = asyncio.Event()

        async def watch() -> None:
            # the condition is a file a step writes: there is no event to wait on
            while not _other_done_and_hang_waiting(project.root, project.state_dir):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            shutdown.set()

        watcher = asyncio.create_task(watch())
        try:
            return await run_workflow(
                "wf",
                manifest=manifest,
                state_dir=project.state_dir,
                options=ExecutorOptions(kill_grace=0.3),
                shutdown=shutdown,
            )
        finally:
            watcher.cancel()

    return asyncio.run(go())


def test_a_shutdown_leaves_the_run_interrupted_and_a_resume_finishes_it(project) -> None:
    """A run stopped by its ``shutdown`` event ends ``interrupted`` (exit 130), not cancelled:
    the running step's whole group is gone, the step is pending again with its attempt marked
    interrupted, ``run.interrupted`` is logged, the run has no owner (so this very process can
    resume it), and the resume runs ``hang`` and ``after`` but not ``other`` again."""
    project.write(WORKFLOW)
    result = _run_until_shutdown(project)
    assert (result.status, result.exit_code) == ("interrupted", 130)
    statuses = {s.key: s.status for s in result.steps}
    assert statuses == {"hang": "pending", "after": "pending", "other": "succeeded"}
    left = _group_members(int((project.root / "hang.pid").read_text()))
    assert left == [], _describe(left)
    with open_database(project.state_dir) as db:
        store = RunStore(db)
        record = store.run(result.run_id)
        attempts = {(a.key, a.attempt): a.status for a in store.attempts(result.run_id)}
        types = [r[0] for r in db.query("SELECT type FROM events WHERE run_id=?", (result.run_id,))]
    assert (record.status, record.owner_pid) == ("running", None)
    assert shown_status(record) == "interrupted"
    assert attempts == {("other", 1): "succeeded", ("hang", 1): "interrupted"}
    assert types[-1] == "nestr.workflow.run.interrupted"
    assert "nestr.workflow.run.finished" not in types
    (project.root / "go").touch()
    resumed = asyncio.run(resume_run(result.run_id, state_dir=project.state_dir))
    assert resumed.status == "succeeded"
    ran = (project.root / "ran").read_text().split()
    assert sorted(ran) == ["after", "hang", "hang", "other"]  # hang: interrupted, then again


def test_a_cancel_asked_before_a_shutdown_still_ends_the_run_cancelled(project) -> None:
    """When both are asked, the first stop wins: a cancel followed by a shutdown records the
    run and its steps cancelled, as a user's cancel must."""
    project.write(WORKFLOW)
    manifest = load_manifest(project.manifest_path)

    async def go() -> RunResult:
        cancel, shutdown = asyncio.Event(), asyncio.Event()

        async def watch() -> None:
            while not _other_done_and_hang_waiting(project.root, project.state_dir):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            cancel.set()
            await asyncio.sleep(0)  # the executor's forwarder of the cancel runs first
            shutdown.set()  # while the cancel kills ``hang`` (it ignores SIGTERM)

        watcher = asyncio.create_task(watch())
        try:
            return await run_workflow(
                "wf",
                manifest=manifest,
                state_dir=project.state_dir,
                options=ExecutorOptions(kill_grace=0.3),
                cancel=cancel,
                shutdown=shutdown,
            )
        finally:
            watcher.cancel()

    result = asyncio.run(go())
    assert result.status == "cancelled"
    statuses = {s.key: s.status for s in result.steps}
    assert statuses == {"hang": "cancelled", "after": "cancelled", "other": "succeeded"}
