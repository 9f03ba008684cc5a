"""Temporal runs whose submitter died: ``runs cancel`` cancels their workflow, ``runs list`` and
``runs show`` refresh them from the cluster, and an unreachable cluster is said, not waited on;
and the record keeps every try the workflow made."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from tests.temporal.conftest import Cluster
from tests.temporal.test_temporal_durability import wait_for
from tests.workflow.conftest import Project

from nestr.temporal.devserver import DevServer
from nestr.temporal.executor import workflow_id
from nestr.temporal.shapes import RunOutcome


def submit_and_kill(flags: list[str], project: Project, began: Path) -> str:
    """Start ``nestr run wf`` in a process of its own, SIGKILL it once ``began`` exists (a
    step is running on the cluster), and return the id of the run it left."""
    with (project.root / "submitter.log").open("wb") as log:
        submitter = subprocess.Popen(
            [sys.executable, "-m", "nestr", *flags, "run", "wf"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: began.exists() or submitter.poll() is not None)
        assert submitter.poll() is None, (project.root / "submitter.log").read_text()
    finally:
        os.kill(submitter.pid, signal.SIGKILL)
        submitter.wait()
    return _only_run(project)


def _only_run(project: Project) -> str:
    from nestr.store import RunStore, open_database

    with open_database(project.state_dir) as db:
        (record,) = RunStore(db).runs()
    return record.id


def _status(cluster: Cluster, run_id: str) -> WorkflowExecutionStatus | None:
    async def described() -> WorkflowExecutionStatus | None:
        client = await Client.connect(cluster.server.address)
        return (await client.get_workflow_handle(workflow_id(run_id)).describe()).status

    return asyncio.run(described())


def _ended(cluster: Cluster, run_id: str) -> RunOutcome:
    async def result() -> RunOutcome:
        client = await Client.connect(cluster.server.address)
        handle = client.get_workflow_handle(workflow_id(run_id), result_type=RunOutcome)
        return await handle.result()

    return asyncio.run(result())


def _shown(nestr, flags: list[str], run_id: str) -> dict[str, Any]:
    """``runs show RUN --json``."""
    shown = nestr(*flags, "runs", "show", run_id, "--json")
    assert shown.code == 0, shown.err
    detail: dict[str, Any] = json.loads(shown.out)
    return detail


def _steps(detail: dict[str, Any]) -> dict[str, str]:
    return {s["key"]: s["status"] for s in detail["steps"]}


def test_cancel_of_a_run_whose_submitter_died_cancels_its_workflow(
    nestr, cluster: Cluster, project: Project, tmp_path: Path
) -> None:
    """``runs cancel`` of a Temporal run whose submitter was SIGKILLed cancels the workflow on
    the cluster (its running step's process is killed, the workflow closes) and records the
    run as the workflow's result says: cancelled, the running and pending steps cancelled."""
    began, finished = tmp_path / "began", tmp_path / "finished"
    project.write(
        f"""
        wf:
          steps:
            - {{id: first, run: "true"}}
            - id: long
              needs: [first]
              shell: true
              run: "touch {began}; sleep 60; touch {finished}"
            - {{id: after, needs: [long], run: "true"}}
        """
    )
    flags = cluster.submitter_flags(project)
    run_id = submit_and_kill(flags, project, began)
    assert _shown(nestr, flags, run_id)["status"] == "interrupted"
    cancelled = nestr(*flags, "runs", "cancel", run_id)
    assert cancelled.code == 0, cancelled.err
    assert _status(cluster, run_id) != WorkflowExecutionStatus.RUNNING
    assert _ended(cluster, run_id).status == "cancelled"
    detail = _shown(nestr, flags, run_id)
    assert detail["status"] == "cancelled"
    assert _steps(detail) == {"first": "succeeded", "long": "cancelled", "after": "cancelled"}
    assert not finished.exists()


def test_list_and_show_refresh_a_run_whose_submitter_died(
    nestr, cluster: Cluster, project: Project, tmp_path: Path
) -> None:
    """With its submitter SIGKILLed, a Temporal run is brought up to date by ``runs show``
    while it runs (its steps' progress, the run still ``interrupted``) and by ``runs list``
    once it ended on the cluster (recorded succeeded, every step once, ``run.finished`` naming
    the workflow)."""
    began, gate = tmp_path / "began", tmp_path / "gate"
    project.write(
        f"""
        wf:
          steps:
            - {{id: first, shell: true, run: echo "v=1" >> "$NESTR_OUTPUT"}}
            - id: wait
              needs: [first]
              shell: true
              run: "touch {began}; while [ ! -e {gate} ]; do sleep 0.05; done"
            - {{id: after, needs: [wait], run: "true"}}
        """
    )
    flags = cluster.submitter_flags(project)
    run_id = submit_and_kill(flags, project, began)
    running = _shown(nestr, flags, run_id)
    assert running["status"] == "interrupted"
    assert _steps(running) == {"first": "succeeded", "wait": "running", "after": "pending"}
    gate.touch()
    assert _ended(cluster, run_id).status == "succeeded"
    listed = nestr(*flags, "runs", "list", "--json")
    assert [(r["id"], r["status"]) for r in json.loads(listed.out)] == [(run_id, "succeeded")]
    detail = _shown(nestr, flags, run_id)
    assert _steps(detail) == dict.fromkeys(["first", "wait", "after"], "succeeded")
    assert [s["attempts"] for s in detail["steps"]] == [1, 1, 1]
    events = nestr(*flags, "events", "--json", "--run", run_id)
    ends = [e for e in map(json.loads, events.out.splitlines()) if e["type"].endswith("finished")]
    run_end = [e for e in ends if e["type"] == "nestr.workflow.run.finished"]
    assert [e["data"]["temporal"]["workflow_id"] for e in run_end] == [workflow_id(run_id)]
    assert nestr(*flags, "runs", "list").code == 0
    again = nestr(*flags, "events", "--json", "--run", run_id)
    assert again.out == events.out  # an ended run is not refreshed again


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[DevServer]:
    """A dev server of this test alone (it stops it)."""
    server = DevServer(tmp_path / "own.db")
    with server:
        yield server


def test_an_unreachable_cluster_is_said_and_nothing_is_recorded(
    nestr, own_server: DevServer, project: Project, tmp_path: Path
) -> None:
    """With the cluster of a run whose submitter died stopped, ``runs list`` still answers,
    showing the record as it is with a one-line note on stderr, and ``runs cancel`` fails
    (exit 1) saying so, the run not recorded cancelled."""
    cluster = Cluster(own_server, tmp_path / "cluster")
    cluster.worker()
    began = tmp_path / "began"
    project.write(
        f"""
        wf:
          steps:
            - {{id: long, shell: true, run: "touch {began}; sleep 60"}}
        """
    )
    flags = cluster.submitter_flags(project)
    try:
        run_id = submit_and_kill(flags, project, began)
    finally:
        for worker in cluster.workers:
            worker.kill()
    own_server.stop()
    listed = nestr(*flags, "runs", "list", "--json")
    assert listed.code == 0, listed.err
    assert [r["status"] for r in json.loads(listed.out)] == ["interrupted"]
    assert f"Temporal did not answer within 3s about run {run_id}" in listed.err
    cancelled = nestr(*flags, "runs", "cancel", run_id)
    assert cancelled.code == 1
    assert f"cannot cancel run {run_id}" in cancelled.err
    assert "nothing was recorded" in cancelled.err
    detail = _shown(nestr, flags, run_id)
    assert detail["status"] == "interrupted"
    assert "cancelled" not in _steps(detail).values()


def test_listing_local_runs_loads_nothing_of_temporal(project: Project) -> None:
    """``runs list`` and ``runs show`` of local runs import neither ``temporalio`` nor nestr's
    Temporal face: only a run recorded as Temporal's loads its tracker."""
    project.write(
        """
        wf:
          steps:
            - {id: one, run: "true"}
        """
    )
    run_id = project.run("wf").run_id
    flags = ["-C", str(project.root), "--set", f"state_dir={project.state_dir}"]
    code = (
        "import sys\n"
        "from nestr.cli.main import main\n"
        f"assert main({[*flags, 'runs', 'list']!r}) == 0\n"
        f"assert main({[*flags, 'runs', 'show', run_id]!r}) == 0\n"
        "names = ('temporalio', 'nestr.temporal')\n"
        "print(sorted(m for m in sys.modules if m.startswith(names)), file=sys.stderr)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stderr.strip().splitlines()[-1] == "[]"


def test_a_try_seen_running_then_retried_is_recorded_failed(
    cluster: Cluster, project: Project, tmp_path: Path
) -> None:
    """A step's first try that the submitter saw running and that Temporal then retried is
    recorded failed (with a ``step.retrying`` event), not left running, beside the try that
    succeeded."""
    from nestr.events.catalog import STEP_RETRYING
    from nestr.store import RunStore, open_database
    from nestr.store.eventlog import EventLog

    tries = tmp_path / "tries"
    project.write(
        f"""
        wf:
          steps:
            - id: flaky
              shell: true
              retry: {{attempts: 2, initial: 0.01, jitter: false}}
              run: echo x >> {tries}; test "$(wc -l < {tries})" -ge 2 || {{ sleep 3; false; }}
        """
    )
    result = project.run("wf", settings=cluster.settings(project.state_dir))
    assert result.ok, result.to_dict()
    with open_database(project.state_dir) as db:
        attempts = [(a.attempt, a.status) for a in RunStore(db).attempts(result.run_id)]
        types = [e.type for e in EventLog(db).read(0, "nestr.workflow.step", result.run_id)]
    assert sorted(attempts) == [(1, "failed"), (2, "succeeded")]
    assert types.count(STEP_RETRYING.name) == 1
