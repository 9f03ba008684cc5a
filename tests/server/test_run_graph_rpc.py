"""``GetRun`` sends the run's DAG (steps, needs, layers, fan-out, retry policies), built by the
same run queries a local face uses, so a remote Run screen draws what a local one draws."""

from __future__ import annotations

from pathlib import Path

from grpc import aio

from nestr.client import convert
from nestr.server._proto import workflow_pb2 as pb
from nestr.server._proto import workflow_pb2_grpc as pb_grpc
from nestr.workflow.model import RetryPolicy

from .conftest import make_session
from .test_workflow_service import finished, project, serve, start_request

DIAMOND = """
diamond:
  steps:
    - {id: fetch, run: "true"}
    - {id: build, needs: [fetch], run: "true"}
    - {id: lint, needs: [fetch], run: "true"}
    - id: ship
      needs: [build, lint]
      run: "true"
      retry: {attempts: 3, backoff: exponential, initial: 0.5s, max: 2s, jitter: false}
"""


def test_get_run_sends_the_runs_dag_as_the_local_queries_build_it(tmp_path: Path) -> None:
    """Each step comes with its needs, its layer (one more than its deepest need) and its
    retry policy, in definition order; converted back it equals the local queries' graph."""
    manifest = project(tmp_path, DIAMOND)

    async def scenario(
        stub: pb_grpc.WorkflowServiceStub, channel: aio.Channel
    ) -> pb.GetRunResponse:
        run_id = (await stub.StartRun(start_request(manifest, "diamond"))).run_id
        assert (await finished(channel, run_id))["status"] == "succeeded"
        shown: pb.GetRunResponse = await stub.GetRun(pb.GetRunRequest(run_id=run_id))
        return shown

    shown = serve(tmp_path, scenario)
    assert [(n.id, list(n.needs), n.layer, n.foreach) for n in shown.graph] == [
        ("fetch", [], 0, False),
        ("build", ["fetch"], 1, False),
        ("lint", ["fetch"], 1, False),
        ("ship", ["build", "lint"], 2, False),
    ]
    retry = shown.graph[3].retry
    assert (retry.attempts, retry.backoff, retry.initial, retry.max, retry.jitter) == (
        3,
        "exponential",
        0.5,
        2.0,
        False,
    )
    session = make_session(tmp_path / "state")
    try:
        local = session.queries.graph(session.queries.find_run(shown.run.id))
    finally:
        session.close()
    assert convert.graph(shown.graph) == local
    assert local.policies()["fetch"] == RetryPolicy()
