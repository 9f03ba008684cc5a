"""Compensation (the saga pattern) on Temporal: after a failure, after a cancel, and when a
run stopped while it compensated is resumed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.temporal.conftest import Cluster
from tests.workflow.conftest import CHAIN, Project, assert_chain_compensated

from nestr.events.catalog import COMPENSATION_FINISHED, COMPENSATION_STARTED, RUN_FINISHED
from nestr.store import RunStore, open_database
from nestr.store.eventlog import EventLog


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_failure_undoes_succeeded_steps_in_reverse_dependency_order_on_temporal(
    cluster: Cluster, project: Project
) -> None:
    """On Temporal, after a step fails the compensations of the steps that succeeded run
    latest-first along the needs (through a step without one), read the outputs of the step
    they undo, a failing try is retried per the step's policy, and each is recorded as a
    ``compensate:KEY`` instance with its events; the run ends failed, compensated."""
    project.write(CHAIN)
    result = project.run("wf", settings=cluster.settings(project.state_dir))
    assert_chain_compensated(project.root, result)
    with open_database(project.state_dir) as db:
        record = RunStore(db).runs()[0]
        types = [e.type for e in EventLog(db).read(0, "nestr.workflow", result.run_id)]
    assert (record.status, record.compensation, record.outcome) == ("failed", "succeeded", "failed")
    started, finished = types.index(COMPENSATION_STARTED.name), types.index(RUN_FINISHED.name)
    assert started < types.index(COMPENSATION_FINISHED.name) < finished


def test_cancel_undoes_what_succeeded_on_temporal(cluster: Cluster, project: Project) -> None:
    """A run cancelled on Temporal (the workflow's cancellation) runs the compensations of its
    succeeded steps after its running step stopped, and ends cancelled, compensated."""
    began = project.root / "began"
    project.write(
        f"""
        wf:
          steps:
            - {{id: a, run: "true", compensate: {{shell: true, run: echo "undo a" >> undo}}}}
            - {{id: long, needs: [a], shell: true, run: "touch {began}; sleep 30"}}
        """
    )
    settings = cluster.settings(project.state_dir)
    result = project.run("wf", settings=settings, cancel_when=began.exists)
    assert (result.status, result.compensation) == ("cancelled", "succeeded")
    assert {s.key: s.status for s in result.forward} == {"a": "succeeded", "long": "cancelled"}
    assert _lines(project.root / "undo") == ["undo a"]


UNDONE_ON_RESUME = """
wf:
  steps:
    - id: a
      run: "true"
      compensate:
        shell: true
        run: echo "undo a" >> undo-a; test "$(wc -l < undo-a)" -ge 2 || sleep 60
    - id: b
      needs: [a]
      run: "true"
      compensate: {shell: true, run: echo "undo b" >> undo-b}
    - {id: boom, needs: [b], run: "false"}
"""


def test_resume_of_a_compensating_run_continues_its_compensations_on_temporal(
    nestr, cluster: Cluster, project: Project
) -> None:
    """A run stopped mid-compensation on the local executor and resumed on Temporal runs on
    the cluster only the compensation that had not ended (its try numbered after the first),
    not the one that had succeeded nor any step, and ends failed, compensated."""
    project.write(UNDONE_ON_RESUME)
    run_id = asyncio.run(_stopped_mid_compensation(project, project.root / "undo-a"))
    flags = cluster.submitter_flags(project)
    before = json.loads(nestr(*flags, "runs", "show", run_id, "--json").out)
    assert (before["status"], before["compensation"]) == ("interrupted", "running")
    resumed = nestr(*flags, "runs", "resume", run_id, "--json")
    assert resumed.code == 1, resumed.err
    after = json.loads(nestr(*flags, "runs", "show", run_id, "--json").out)
    assert (after["status"], after["compensation"]) == ("failed", "succeeded")
    undone = {s["key"]: (s["status"], s["attempts"]) for s in after["compensations"]}
    assert undone == {"compensate:b": ("succeeded", 1), "compensate:a": ("succeeded", 2)}
    assert {s["key"]: s["status"] for s in after["steps"]} == {
        "a": "succeeded",
        "b": "succeeded",
        "boom": "failed",
    }
    assert _lines(project.root / "undo-a") == ["undo a", "undo a"]
    assert _lines(project.root / "undo-b") == ["undo b"]


async def _stopped_mid_compensation(project: Project, undo: Path) -> str:
    """Run ``wf`` locally and shut it down while its compensation runs; its run id."""
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
    while not undo.exists():  # noqa: ASYNC110 (a step's process writes it)
        await asyncio.sleep(0.01)
    shutdown.set()
    result = await running
    assert (result.status, result.compensation) == ("interrupted", "running")
    return result.run_id
