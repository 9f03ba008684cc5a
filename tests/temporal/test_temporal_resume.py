"""``nestr runs resume`` of a run that ended failed or cancelled on Temporal runs again what did
not succeed, on the cluster, as a resume does on the local executor."""

from __future__ import annotations

import asyncio

from temporalio.client import Client, WorkflowExecutionStatus
from tests.temporal.conftest import Cluster
from tests.workflow.conftest import Project, statuses

from nestr.store import RunStore, open_database
from nestr.temporal.executor import resume_workflow_id, workflow_id
from nestr.workflow.runs import resume_run

WORKFLOW = """
wf:
  steps:
    - {id: first, shell: true, run: echo first >> marker}
    - {id: gate, needs: [first], shell: true, run: test -e allow}
    - {id: after, needs: [gate], shell: true, run: echo after >> marker}
"""


def test_resume_of_a_failed_run_runs_what_did_not_succeed_on_the_cluster(
    cluster: Cluster, project: Project
) -> None:
    """A run whose step failed on Temporal, resumed once the cause is fixed, runs the failed
    step again (its try numbered after the first) and the step it held back, in a workflow of
    its own (``nestr-RUN-resume-N``; the run's own stays as it ended), and not the step that
    succeeded; the run ends succeeded."""
    project.write(WORKFLOW)
    settings = cluster.settings(project.state_dir)
    failed = project.run("wf", settings=settings)
    assert statuses(failed) == {"first": "succeeded", "gate": "failed", "after": "skipped"}
    (project.root / "allow").touch()
    resumed = asyncio.run(resume_run(failed.run_id, state_dir=project.state_dir, settings=settings))
    assert resumed.status == "succeeded"
    assert (project.root / "marker").read_text().splitlines() == ["first", "after"]
    with open_database(project.state_dir) as db:
        steps = {s.key: (s.status, s.attempts) for s in RunStore(db).steps(failed.run_id)}
    assert steps == {"first": ("succeeded", 1), "gate": ("succeeded", 2), "after": ("succeeded", 1)}

    async def described() -> list[WorkflowExecutionStatus | None]:
        client = await Client.connect(cluster.server.address)
        ids = [workflow_id(failed.run_id), resume_workflow_id(failed.run_id, 1)]
        return [(await client.get_workflow_handle(i).describe()).status for i in ids]

    assert asyncio.run(described()) == [
        WorkflowExecutionStatus.COMPLETED,  # the run's own ended, its result: failed
        WorkflowExecutionStatus.COMPLETED,
    ]
