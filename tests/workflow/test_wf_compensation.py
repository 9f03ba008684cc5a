"""Compensation (the saga pattern) on the local executor: after a failure or a cancel the
succeeded steps are undone in reverse dependency order, each compensation recorded and retried
like a step; a resume after a crash mid-compensation continues without running a finished one
again."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.workflow.conftest import CHAIN, assert_chain_compensated

from nestr.events.catalog import COMPENSATION_FINISHED, COMPENSATION_STARTED
from nestr.store import RunStore, open_database
from nestr.store.eventlog import EventLog
from nestr.workflow import resume_run
from nestr.workspace.record import Workspace, write_record


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _events(project, run_id: str, prefix: str) -> list[dict[str, object]]:
    with open_database(project.state_dir) as db:
        return [e.to_dict() for e in EventLog(db).read(0, prefix, run_id)]


def test_failure_undoes_succeeded_steps_in_reverse_dependency_order(project, status_of) -> None:
    """After a step fails, the compensations of the steps that succeeded run latest-first
    along the needs (through a step without one), read the outputs of the step they undo, are
    recorded as `compensate:KEY` instances with events, and the run ends failed, compensated;
    the failed step itself is not compensated."""
    project.write(CHAIN)
    result = project.run("wf")
    assert_chain_compensated(project.root, result)
    assert result.to_dict()["compensated"] is True
    assert result.counts() == {"succeeded": 5, "failed": 1}
    with open_database(project.state_dir) as db:
        record = RunStore(db).run(result.run_id)
    assert (record.status, record.compensation) == ("failed", "succeeded")
    started = _events(project, result.run_id, COMPENSATION_STARTED.name)
    assert started[0]["data"] == {
        "outcome": "failed",
        "steps": ["compensate:side", "compensate:c", "compensate:b", "compensate:a"],
    }
    finished = _events(project, result.run_id, COMPENSATION_FINISHED.name)
    assert finished[0]["data"] == {"status": "succeeded", "counts": {"succeeded": 4}}
    steps = _events(project, result.run_id, "nestr.workflow.step.finished")
    assert "compensate:b" in [e["step"] for e in steps]


def test_cancel_undoes_what_succeeded_and_is_not_stopped_by_itself(project) -> None:
    """A cancelled run compensates the steps that succeeded, latest first (not the one it
    interrupted), although the cancel stays requested while the compensations run, and ends
    cancelled, compensated."""
    project.write(
        """
        wf:
          steps:
            - id: first
              run: echo first
              compensate: {shell: true, run: echo "undo first" >> undo}
            - id: second
              needs: [first]
              run: echo second
              compensate: {shell: true, run: echo "undo second" >> undo}
            - id: slow
              needs: [second]
              shell: true
              run: touch started; sleep 30
              compensate: {shell: true, run: echo "undo slow" >> undo}
        """
    )
    result = project.run("wf", cancel_when=(project.root / "started").exists)
    assert result.status == "cancelled"
    assert result.exit_code == 130
    assert result.compensation == "succeeded"
    assert _lines(project.root / "undo") == ["undo second", "undo first"]
    assert [s.key for s in result.compensations] == ["compensate:second", "compensate:first"]
    assert {s.key: s.status for s in result.forward}["slow"] == "cancelled"


def test_failing_compensation_is_retried_recorded_and_the_others_still_run(project) -> None:
    """A compensation that keeps failing is tried as often as its step's retry policy says,
    each try recorded; the compensations of the steps it needs still run, and the run's
    compensation ends failed."""
    project.write(
        """
        wf:
          steps:
            - id: base
              run: echo base
              compensate: {shell: true, run: echo "undo base" >> undo}
            - id: push
              needs: [base]
              run: echo push
              retry: {attempts: 3, initial: 0, jitter: false}
              compensate: {shell: true, run: echo try >> tries; exit 3}
            - id: boom
              needs: [push]
              run: "false"
        """
    )
    result = project.run("wf")
    assert result.status == "failed"
    assert result.compensation == "failed"
    assert _lines(project.root / "tries") == ["try", "try", "try"]
    assert _lines(project.root / "undo") == ["undo base"]
    undone = {s.key: (s.status, s.attempts, s.exit_code) for s in result.compensations}
    assert undone == {"compensate:push": ("failed", 3, 3), "compensate:base": ("succeeded", 1, 0)}
    with open_database(project.state_dir) as db:
        attempts = [a for a in RunStore(db).attempts(result.run_id) if a.key == "compensate:push"]
    assert [(a.attempt, a.status) for a in attempts] == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
    ]


def test_per_repo_step_is_compensated_per_instance(project) -> None:
    """A foreach step's compensation runs once per instance that succeeded, in that
    instance's repo, with `repo` and the instance's own outputs; a failed instance is not
    compensated."""
    project.write(
        """
        wf:
          steps:
            - id: push
              foreach: {all: true}
              shell: true
              run: >-
                echo "ref=${{ repo.name }}-ref" >> "$NESTR_OUTPUT";
                test "${{ repo.name }}" != web
              compensate:
                shell: true
                run: echo "${{ repo.name }} ${{ steps.push.outputs.ref }}" > undone
        """,
        repos="""
        repos:
          - {name: api, url: file:///nowhere/api}
          - {name: worker, url: file:///nowhere/worker}
          - {name: web, url: file:///nowhere/web}
        """,
    )
    root = project.root / "ws"
    for name in ("api", "worker", "web"):
        (root / name).mkdir(parents=True)
    created = datetime.now(UTC)
    write_record(Workspace(root=root, manifest_path=project.manifest_path, id="w", created=created))
    result = project.run("wf", workspace_root=root)
    assert result.status == "failed"
    assert (root / "api" / "undone").read_text() == "api api-ref\n"
    assert (root / "worker" / "undone").read_text() == "worker worker-ref\n"
    assert not (root / "web" / "undone").exists()
    keys = {s.key: s.repo for s in result.compensations}
    assert keys == {"compensate:push[worker]": "worker", "compensate:push[api]": "api"}


def test_resume_after_a_kill_mid_compensation_runs_no_finished_one_again(project) -> None:
    """SIGKILLed while a compensation runs, the run shows interrupted; a resume runs the
    compensations that had not finished (not the finished one, nor any step) and ends the run
    failed, compensated."""
    project.write(
        """
        wf:
          steps:
            - id: a
              run: echo a
              compensate: {shell: true, run: echo "undo a" >> undo}
            - id: b
              needs: [a]
              run: echo b
              compensate:
                shell: true
                run: echo "undo b" >> undo; test -e resumed || sleep 60
            - id: c
              needs: [b]
              shell: true
              run: echo c >> ran
              compensate: {shell: true, run: echo "undo c" >> undo}
            - id: boom
              needs: [c]
              run: "false"
        """
    )
    undo = project.root / "undo"
    env = {**os.environ, "NESTR_STATE_DIR": str(project.state_dir)}
    command = [sys.executable, "-m", "nestr", "run", "wf", "-m", str(project.manifest_path)]
    proc = subprocess.Popen(command, cwd=project.root, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _lines(undo) != ["undo c", "undo b"]:  # b's compensation is sleeping
            assert proc.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()
    (project.root / "resumed").touch()
    with open_database(project.state_dir) as db:
        run_id = RunStore(db).runs()[0].id
    result = asyncio.run(resume_run(run_id, state_dir=project.state_dir))
    assert (result.status, result.compensation) == ("failed", "succeeded")
    assert _lines(undo) == ["undo c", "undo b", "undo b", "undo a"]
    assert _lines(project.root / "ran") == ["c"]
    with open_database(project.state_dir) as db:
        attempts = RunStore(db).attempts(run_id)
    tries = sorted((a.key, a.attempt, a.status) for a in attempts if a.key.startswith("comp"))
    assert tries == [
        ("compensate:a", 1, "succeeded"),
        ("compensate:b", 1, "interrupted"),
        ("compensate:b", 2, "succeeded"),
        ("compensate:c", 1, "succeeded"),
    ]


def test_runs_show_lists_compensations_and_a_compensated_run_is_not_resumed(
    project, nestr, monkeypatch
) -> None:
    """`runs show` prints the compensations after the steps and reports them in --json; a
    compensated run refuses `runs resume` and `runs retry` (exit 2)."""
    project.write(CHAIN)
    run_id = project.run("wf").run_id
    monkeypatch.setenv("NESTR_STATE_DIR", str(project.state_dir))
    text = nestr("runs", "show", run_id)
    assert text.code == 0
    assert "compensated: succeeded" in text.out
    assert "compensate:b" in text.out.split("compensations:")[1]
    shown = json.loads(nestr("runs", "show", run_id, "--json").out)
    assert (shown["status"], shown["compensated"], shown["compensation"]) == (
        "failed",
        True,
        "succeeded",
    )
    assert [s["key"] for s in shown["compensations"]][:1] == ["compensate:side"]
    assert all(not s["key"].startswith("compensate:") for s in shown["steps"])
    refused = nestr("runs", "resume", run_id)
    assert refused.code == 2
    assert "was compensated" in refused.err
    assert nestr("runs", "retry", run_id, "boom").code == 2


def test_shutdown_mid_compensation_leaves_it_to_resume_or_cancel(
    project, nestr, monkeypatch
) -> None:
    """A shutdown while a compensation runs kills it and leaves the run interrupted with its
    compensation `running`; `runs cancel` then ends the run cancelled, its compensation
    `cancelled` and the compensations not run `cancelled`, running nothing more."""
    project.write(
        """
        wf:
          steps:
            - id: a
              run: echo a
              compensate: {shell: true, run: echo "undo a" >> undo}
            - id: b
              needs: [a]
              run: echo b
              compensate: {shell: true, run: echo "undo b" >> undo; sleep 60}
            - id: boom
              needs: [b]
              run: "false"
        """
    )
    undo = project.root / "undo"

    async def shut_down_mid_compensation() -> str:
        from nestr.manifest.loader import load_manifest
        from nestr.workflow import run_workflow

        shutdown = asyncio.Event()
        running = asyncio.create_task(
            run_workflow(
                "wf",
                manifest=load_manifest(project.manifest_path),
                state_dir=project.state_dir,
                shutdown=shutdown,
            )
        )
        while not undo.exists():  # noqa: ASYNC110 (another process writes it)
            await asyncio.sleep(0.01)
        shutdown.set()
        result = await running
        assert (result.status, result.compensation) == ("interrupted", "running")
        return result.run_id

    run_id = asyncio.run(shut_down_mid_compensation())
    monkeypatch.setenv("NESTR_STATE_DIR", str(project.state_dir))
    before = json.loads(nestr("runs", "show", run_id, "--json").out)
    assert (before["status"], before["compensation"]) == ("interrupted", "running")
    assert nestr("runs", "cancel", run_id).code == 0
    after = json.loads(nestr("runs", "show", run_id, "--json").out)
    assert (after["status"], after["compensation"]) == ("cancelled", "cancelled")
    assert {s["key"]: s["status"] for s in after["compensations"]} == {
        "compensate:b": "cancelled",
        "compensate:a": "cancelled",
    }
    assert _lines(undo) == ["undo b"]
