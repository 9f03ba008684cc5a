"""``WorkflowService.ListFailedSteps`` and ``RetryStep`` over a real gRPC channel, and a
compensated run as ``GetRun`` shows it: the dead-letter list and compensation through the
server, with real subprocesses and a real store."""

from __future__ import annotations

import textwrap
from pathlib import Path

import grpc
import pytest
from grpc import aio

from nestr.server._proto import workflow_pb2 as pb
from nestr.server._proto import workflow_pb2_grpc as pb_grpc

from .test_workflow_service import finished, serve, start_request

WORKFLOWS = """
flaky:
  steps:
    - {id: first, shell: true, run: "echo ran >> first.log"}
    - id: second
      needs: [first]
      shell: true
      run: "test -e fixed"
saga:
  steps:
    - id: push
      run: echo push
      compensate: {shell: true, run: echo undone >> undo.log}
    - {id: boom, needs: [push], run: "false"}
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    body = textwrap.indent(textwrap.dedent(WORKFLOWS).strip("\n"), "  ")
    manifest = root / "nestr.yaml"
    manifest.write_text(f"version: 1\nrepos: []\nworkflows:\n{body}\n", encoding="utf-8")
    return manifest


def test_failed_steps_are_listed_and_retried_through_the_server(tmp_path: Path) -> None:
    """ListFailedSteps lists the failed step of an ended run; RetryStep runs it again (not the
    step that succeeded) as attempt 2 of the same run, which ends succeeded and leaves the
    list; retrying a step that did not fail is INVALID_ARGUMENT."""
    manifest = _project(tmp_path)
    root = manifest.parent

    async def scenario(stub: pb_grpc.WorkflowServiceStub, channel: aio.Channel) -> None:
        run_id = (await stub.StartRun(start_request(manifest, "flaky"))).run_id
        ended = await finished(channel, run_id)
        listed = await stub.ListFailedSteps(pb.ListFailedStepsRequest(run_id=run_id[:6]))
        assert [(s.run_id, s.key, s.attempts, s.exit_code) for s in listed.steps] == [
            (run_id, "second", 1, 1)
        ]
        with pytest.raises(aio.AioRpcError) as refused:
            await stub.RetryStep(pb.RetryStepRequest(run_id=run_id, step="first"))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        (root / "fixed").touch()
        retried = await stub.RetryStep(pb.RetryStepRequest(run_id=run_id, step="second"))
        assert retried.run_id == run_id
        assert (await finished(channel, run_id, ended["seq"]))["status"] == "succeeded"
        done = await stub.GetRun(pb.GetRunRequest(run_id=run_id))
        assert [(a.key, a.attempt, a.status) for a in done.attempts] == [
            ("first", 1, "succeeded"),
            ("second", 1, "failed"),
            ("second", 2, "succeeded"),
        ]
        assert not (await stub.ListFailedSteps(pb.ListFailedStepsRequest())).steps

    serve(tmp_path, scenario)
    assert (root / "first.log").read_text() == "ran\n"


def test_get_run_shows_a_compensated_run(tmp_path: Path) -> None:
    """A failed run whose succeeded step declares `compensate` is compensated on the server:
    GetRun says how its compensation ended and lists it with the steps."""
    manifest = _project(tmp_path)

    async def scenario(stub: pb_grpc.WorkflowServiceStub, channel: aio.Channel) -> None:
        run_id = (await stub.StartRun(start_request(manifest, "saga"))).run_id
        ended = await finished(channel, run_id)
        assert (ended["status"], ended["compensation"]) == ("failed", "succeeded")
        shown = await stub.GetRun(pb.GetRunRequest(run_id=run_id))
        assert (shown.run.status, shown.run.compensation) == ("failed", "succeeded")
        assert {s.key: s.status for s in shown.steps}["compensate:push"] == "succeeded"

    serve(tmp_path, scenario)
    assert (manifest.parent / "undo.log").read_text() == "undone\n"
