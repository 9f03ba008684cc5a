"""The command line of Temporal runs: ``nestr run --executor temporal``, ``nestr runs`` over
the projection, and ``nestr demo --temporal``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import CliResult
from tests.temporal.conftest import Cluster
from tests.workflow.conftest import Project


def test_run_executor_temporal_runs_on_the_cluster_and_runs_lists_it(
    nestr, cluster: Cluster, project: Project, tmp_path: Path
) -> None:
    """``nestr run --executor temporal`` runs the workflow on a worker (its step's event is in
    the worker's log, not the submitter's) and ``runs list``/``runs show`` list the run."""
    project.write(
        """
        wf:
          steps:
            - {id: hello, run: "true"}
        """
    )
    flags = [
        "-C", str(project.root), "--set", f"state_dir={project.state_dir}",
        "--set", f"temporal.address={cluster.server.address}",
        "--set", f"temporal.task_queue={cluster.queue}",
    ]  # fmt: skip
    ran: CliResult = nestr(*flags, "run", "wf", "--executor", "temporal", "--json")
    assert ran.code == 0, ran.err
    run_id = json.loads(ran.out)["run_id"]
    listed = nestr(*flags, "runs", "list", "--json")
    assert [r["id"] for r in json.loads(listed.out)] == [run_id]
    shown = nestr(*flags, "runs", "show", run_id, "--json")
    assert json.loads(shown.out)["steps"][0]["status"] == "succeeded"
    worker_log = nestr("--set", f"state_dir={cluster.workers[0].state_dir}", "events", "--json")
    seen = [json.loads(line) for line in worker_log.out.splitlines()]
    assert ("nestr.workflow.step.finished", run_id) in {(e["type"], e["run_id"]) for e in seen}
    events = nestr(*flags, "events", "--json", "--run", run_id)
    finished = [json.loads(line) for line in events.out.splitlines()]
    ends = [e for e in finished if e["type"] == "nestr.workflow.run.finished"]
    assert ends[0]["data"]["temporal"]["workflow_id"] == f"nestr-{run_id}"


def test_demo_temporal_runs_the_workflow_on_a_dev_server(
    nestr, dev_server: object, tmp_path: Path
) -> None:
    """``nestr demo --temporal`` starts its own dev server and worker, runs the ci workflow
    on them, and stops them."""
    result = nestr("demo", "--temporal", "--dir", str(tmp_path / "demo"))
    assert result.code == 0, result.err
    assert "$ nestr run ci --executor temporal" in result.out
    assert "(11 succeeded)" in result.out
    assert b"polling nestr-demo" in (tmp_path / "demo" / "temporal" / "worker.log").read_bytes()
