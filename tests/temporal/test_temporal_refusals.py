"""What the temporal executor does not do yet it refuses, before the run is recorded or
submitted, instead of leaving it out: ``compensate:`` steps, the resume of a compensating run,
and ``runs retry``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.conftest import CliResult
from tests.temporal.conftest import Cluster
from tests.workflow.conftest import Project

from nestr.store import RunStore, open_database


def _flags(project: Project, cluster: Cluster) -> list[str]:
    """The submitter's flags: this test's project, store and cluster, the temporal executor."""
    return [
        "-C", str(project.root), "--set", f"state_dir={project.state_dir}",
        "--set", f"temporal.address={cluster.server.address}",
        "--set", f"temporal.task_queue={cluster.queue}",
        "--set", "executor=temporal",
    ]  # fmt: skip


def _refused(result: CliResult, *named: str) -> None:
    """One clear usage error (exit 2) naming ``named`` and pointing at the local executor."""
    assert result.code == 2, (result.out, result.err)
    for name in (*named, "temporal executor", "executor: local"):
        assert name in result.err, result.err


def _runs(project: Project) -> list[tuple[str, str, int | None, int]]:
    """Every run recorded: id, status, owner, resumes."""
    with open_database(project.state_dir) as db:
        return [(r.id, r.status, r.owner_pid, r.resumes) for r in RunStore(db).runs()]


def test_run_with_a_compensate_step_is_refused_before_it_is_recorded(
    nestr, cluster: Cluster, project: Project
) -> None:
    """A workflow with a ``compensate:`` step submitted to Temporal is refused with exit 2
    naming the step, and no run is recorded (nor started on the cluster)."""
    project.write(
        """
        wf:
          steps:
            - {id: push, run: "true", compensate: {run: "true"}}
            - {id: after, needs: [push], run: "true"}
        """
    )
    ran = nestr(*_flags(project, cluster), "run", "wf")
    _refused(ran, "push", "compensate:")
    assert _runs(project) == []


def test_runs_retry_is_refused_and_leaves_the_failed_run_as_it_was(
    nestr, cluster: Cluster, project: Project
) -> None:
    """``runs retry`` of a run that failed on Temporal is refused with exit 2 naming the run
    and the step, and the run stays failed, not taken over, its step not run again."""
    project.write(
        """
        wf:
          steps:
            - {id: boom, shell: true, run: "echo x >> tries; false"}
        """
    )
    flags = _flags(project, cluster)
    ran = nestr(*flags, "run", "wf", "--json")
    assert ran.code == 1, ran.err
    run_id = json.loads(ran.out)["run_id"]
    before = _runs(project)
    retried = nestr(*flags, "runs", "retry", run_id, "boom")
    _refused(retried, run_id, "boom")
    assert _runs(project) == before
    assert (project.root / "tries").read_text() == "x\n"


def test_resume_of_a_compensating_run_is_refused_and_leaves_it_as_it_was(
    nestr, cluster: Cluster, project: Project
) -> None:
    """A run stopped mid-compensation on the local executor and resumed on Temporal is
    refused with exit 2 naming the run, and stays interrupted with its compensation running."""
    project.write(
        """
        wf:
          steps:
            - {id: a, run: "true", compensate: {shell: true, run: echo "undo a" >> undo; sleep 60}}
            - {id: boom, needs: [a], run: "false"}
        """
    )
    run_id = asyncio.run(_stopped_mid_compensation(project, project.root / "undo"))
    flags = _flags(project, cluster)
    before = json.loads(nestr(*flags, "runs", "show", run_id, "--json").out)
    assert (before["status"], before["compensation"]) == ("interrupted", "running")
    resumed = nestr(*flags, "runs", "resume", run_id)
    _refused(resumed, run_id, "compensating")
    after = json.loads(nestr(*flags, "runs", "show", run_id, "--json").out)
    assert after == before


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
