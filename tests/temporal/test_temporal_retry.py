"""The dead-letter list on Temporal: ``nestr runs retry RUN STEP`` re-drives a failed step of a
run that ended on the cluster, in a workflow of its own, as the local executor does."""

from __future__ import annotations

import asyncio
import json

from temporalio.client import Client, WorkflowExecutionStatus
from tests.temporal.conftest import Cluster
from tests.workflow.conftest import Project
from tests.workflow.test_wf_deadletter import WORKFLOW

from nestr.events.catalog import RUN_FINISHED, RUN_RETRIED
from nestr.store import RunStore, open_database
from nestr.store.eventlog import EventLog
from nestr.temporal.executor import retry_workflow_id, workflow_id


def _workflows(cluster: Cluster, run_id: str) -> dict[str, WorkflowExecutionStatus | None]:
    """The status of the run's workflow and of its first two retries' on the cluster."""

    async def described() -> dict[str, WorkflowExecutionStatus | None]:
        client = await Client.connect(cluster.server.address)
        ids = [workflow_id(run_id), retry_workflow_id(run_id, 1), retry_workflow_id(run_id, 2)]
        return {i: (await client.get_workflow_handle(i).describe()).status for i in ids}

    return asyncio.run(described())


def test_retry_redrives_a_failed_step_on_the_cluster(
    nestr, cluster: Cluster, project: Project
) -> None:
    """``runs retry RUN STEP`` of a run that failed on Temporal runs the failed step again on
    the cluster (its tries numbered after the first ones) and the dependent it had skipped,
    with the outputs of the step that succeeded before, but neither that step nor the run's
    other failure, in a workflow of its own (``nestr-RUN-retry-N``, the run's own left as it
    ended); the run stays failed until the other failure is retried too, then it is
    succeeded and leaves the dead-letter list."""
    project.write(WORKFLOW)
    flags = cluster.submitter_flags(project)
    ran = nestr(*flags, "run", "wf", "--json")
    assert ran.code == 1, ran.err
    run_id = json.loads(ran.out)["run_id"]
    (project.root / "allow").touch()
    retried = nestr(*flags, "runs", "retry", run_id[:6], "gate", "--json")
    assert retried.code == 1, retried.err
    shown = json.loads(retried.out)
    assert shown["status"] == "failed"
    assert {s["key"]: s["status"] for s in shown["steps"]} == {
        "first": "succeeded",
        "gate": "succeeded",
        "last": "succeeded",
        "broken": "failed",
    }
    assert (project.root / "marker").read_text() == "first\nlast abc\n"
    assert (project.root / "tried").read_text() == "broken\n"
    listed = json.loads(nestr(*flags, "runs", "failed-steps", "--json").out)
    assert [item["key"] for item in listed] == ["broken"]
    (project.root / "fixed").touch()
    assert nestr(*flags, "runs", "retry", run_id, "broken").code == 0
    with open_database(project.state_dir) as db:
        store = RunStore(db)
        assert store.run(run_id).status == "succeeded"
        attempts = sorted((a.key, a.attempt, a.status) for a in store.attempts(run_id))
        events = EventLog(db).read(0, "nestr.workflow.run", run_id)
    # the tries the retries ran come after the run's own two of gate and one of broken (the
    # run's record holds the tries its submitter saw: at least each instance's last)
    assert [a for a in attempts if a[2] == "succeeded"] == [
        ("broken", 2, "succeeded"),
        ("first", 1, "succeeded"),
        ("gate", 3, "succeeded"),
        ("last", 1, "succeeded"),
    ]
    assert ("gate", 2, "failed") in attempts
    assert ("broken", 1, "failed") in attempts
    assert max(a[1] for a in attempts) == 3
    assert {a[2] for a in attempts} == {"failed", "succeeded"}  # none left open
    assert json.loads(nestr(*flags, "runs", "failed-steps", "--json").out) == []
    assert [e.data["steps"] for e in events if e.type == RUN_RETRIED.name] == [
        ["gate", "last"],
        ["broken"],
    ]
    ends = [e.data for e in events if e.type == RUN_FINISHED.name]
    assert [(e["status"], e["temporal"]["workflow_id"]) for e in ends] == [
        ("failed", workflow_id(run_id)),
        ("failed", retry_workflow_id(run_id, 1)),
        ("succeeded", retry_workflow_id(run_id, 2)),
    ]
    assert set(_workflows(cluster, run_id).values()) == {WorkflowExecutionStatus.COMPLETED}
