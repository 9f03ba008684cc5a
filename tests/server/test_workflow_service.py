"""``nestr.v1.WorkflowService`` over a real gRPC channel on 127.0.0.1: runs of real workflows
(real subprocesses, a real store) started, watched, cancelled and resumed by a client."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio

from nestr.server._proto import events_pb2 as events
from nestr.server._proto import events_pb2_grpc as events_grpc
from nestr.server._proto import workflow_pb2 as pb
from nestr.server._proto import workflow_pb2_grpc as pb_grpc
from nestr.server.errors import HINT_KEY
from nestr.workflow.liveness import shown_status

from .conftest import TOKEN, make_session, serve_channel

AUTH = (("authorization", f"Bearer {TOKEN}"),)
FINISHED = "nestr.workflow.run.finished"
WORKFLOWS = """
gated:
  steps:
    - id: gate
      shell: true
      run: "while [ ! -e go ]; do sleep 0.01; done; echo opened in $NESTR_CORRELATION_ID"
flaky:
  steps:
    - {id: first, shell: true, run: "echo ran >> first.log"}
    - id: second
      needs: [first]
      shell: true
      run: "if [ -e fixed ]; then echo now fine; else echo broken >&2; exit 3; fi"
hang:
  steps:
    - {id: hang, shell: true, run: "echo $$ > hang.pid; exec sleep 300"}
"""
Scenario = Callable[[pb_grpc.WorkflowServiceStub, aio.Channel], Awaitable[Any]]


def project(tmp_path: Path, workflows: str = WORKFLOWS) -> Path:
    """A directory with a nestr.yaml holding ``workflows``; returns the manifest's path."""
    root = tmp_path / "project"
    root.mkdir()
    body = textwrap.indent(textwrap.dedent(workflows).strip("\n"), "  ")
    manifest = root / "nestr.yaml"
    manifest.write_text(f"version: 1\nrepos: []\nworkflows:\n{body}\n", encoding="utf-8")
    return manifest


def serve(tmp_path: Path, scenario: Scenario, *, token: str | None = None) -> Any:
    """Run ``scenario(stub, channel)`` against a server on a free port of 127.0.0.1."""
    return serve_channel(
        tmp_path,
        lambda channel: scenario(pb_grpc.WorkflowServiceStub(channel), channel),
        token=token,
    )


async def finished(channel: aio.Channel, run_id: str, after_seq: int = 0) -> dict[str, Any]:
    """The data of the first ``run.finished`` event of ``run_id`` after ``after_seq``, waiting
    for it on the event stream."""
    stub = events_grpc.EventServiceStub(channel)
    request = events.SubscribeRequest(after_seq=after_seq, types=[FINISHED], run_id=run_id)
    stream = stub.Subscribe(request)
    try:
        while True:
            response = await stream.read()
            assert response is not aio.EOF
            for event in response.batch.events:
                data: dict[str, Any] = json.loads(event.data_json)
                return {**data, "seq": event.seq}
    finally:
        stream.cancel()


def start_request(manifest: Path, workflow: str, **fields: Any) -> pb.StartRunRequest:
    return pb.StartRunRequest(workflow=workflow, manifest=str(manifest), **fields)


def test_start_run_returns_at_once_and_the_run_goes_on_with_events(tmp_path: Path) -> None:
    """StartRun returns the id while the run's step still waits for a file the test creates;
    the run's events arrive on Subscribe for that id carrying the call's correlation id (its
    step sees it too), and GetRun then shows it succeeded."""
    manifest = project(tmp_path)
    call = (("x-correlation-id", "start-call-1"),)

    async def scenario(stub: pb_grpc.WorkflowServiceStub, channel: aio.Channel) -> None:
        run_id = (await stub.StartRun(start_request(manifest, "gated"), metadata=call)).run_id
        during = await stub.GetRun(pb.GetRunRequest(run_id=run_id))
        assert (during.run.status, during.steps[0].status) == ("running", "running")
        subscribe = events_grpc.EventServiceStub(channel).Subscribe(
            events.SubscribeRequest(run_id=run_id)
        )
        first = await subscribe.read()
        subscribe.cancel()
        assert first.batch.events[0].type == "nestr.workflow.run.started"
        assert {(e.run_id, e.correlation_id) for e in first.batch.events} == {
            (run_id, "start-call-1")
        }
        (manifest.parent / "go").touch()
        assert (await finished(channel, run_id))["status"] == "succeeded"
        after = await stub.GetRun(pb.GetRunRequest(run_id=run_id[:8]))  # a prefix will do
        shown = (after.run.id, after.run.status, after.run.workflow)
        assert shown == (run_id, "succeeded", "gated")
        assert after.run.HasField("finished")
        assert after.steps[0].exit_code == 0
        assert [(a.key, a.attempt, a.status) for a in after.attempts] == [("gate", 1, "succeeded")]
        output = await stub.GetStepLog(pb.GetStepLogRequest(run_id=run_id))
        assert [r.text for r in output.logs] == ["opened in start-call-1\n"]
        listed = await stub.ListRuns(pb.ListRunsRequest(limit=5))
        assert [r.id for r in listed.runs] == [run_id]

    serve(tmp_path, scenario)


def test_a_failed_run_shows_its_output_and_resume_reruns_only_the_failed_step(
    tmp_path: Path,
) -> None:
    """A run whose second step fails ends failed, GetStepLog returns that step's stderr, and
    ResumeRun (returning at once) runs only that step again: the first step's file keeps one
    line, and the run ends succeeded with the second step on attempt 2."""
    manifest = project(tmp_path)
    root = manifest.parent

    async def scenario(stub: pb_grpc.WorkflowServiceStub, channel: aio.Channel) -> None:
        run_id = (await stub.StartRun(start_request(manifest, "flaky"))).run_id
        ended = await finished(channel, run_id)
        assert ended["status"] == "failed"
        failed = await stub.GetRun(pb.GetRunRequest(run_id=run_id))
        assert failed.run.status == "failed"
        assert {s.key: (s.status, s.exit_code) for s in failed.steps} == {
            "first": ("succeeded", 0),
            "second": ("failed", 3),
        }
        log = await stub.GetStepLog(pb.GetStepLogRequest(run_id=run_id, step="second"))
        assert [(r.key, r.attempt, r.stream, r.text) for r in log.logs] == [
            ("second", 1, "stderr", "broken\n")
        ]
        (root / "fixed").touch()
        resumed = await stub.ResumeRun(pb.ResumeRunRequest(run_id=run_id))
        assert resumed.run_id == run_id
        assert (await finished(channel, run_id, ended["seq"]))["status"] == "succeeded"
        done = await stub.GetRun(pb.GetRunRequest(run_id=run_id))
        assert (done.run.status, done.run.resumes) == ("succeeded", 1)
        assert [(a.key, a.attempt, a.status) for a in done.attempts] == [
            ("first", 1, "succeeded"),
            ("second", 1, "failed"),
            ("second", 2, "succeeded"),
        ]
        second = pb.GetStepLogRequest(run_id=run_id, step="second", attempt=2)
        assert [r.text for r in (await stub.GetStepLog(second)).logs] == ["now fine\n"]

    serve(tmp_path, scenario)
    assert (root / "first.log").read_text() == "ran\n"


def test_cancel_run_ends_a_running_run_and_its_process(tmp_path: Path) -> None:
    """While a step runs, ResumeRun is refused FAILED_PRECONDITION (the run is busy);
    CancelRun then ends the run cancelled and the step's process is gone."""
    manifest = project(tmp_path)
    pid_file = manifest.parent / "hang.pid"

    async def scenario(stub: pb_grpc.WorkflowServiceStub, channel: aio.Channel) -> int:
        run_id = (await stub.StartRun(start_request(manifest, "hang"))).run_id
        while not (pid_file.exists() and pid_file.read_text().strip()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # the step writes it: there is no event to wait on
        with pytest.raises(aio.AioRpcError) as busy:
            await stub.ResumeRun(pb.ResumeRunRequest(run_id=run_id))
        assert busy.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert run_id in (busy.value.details() or "")
        answer = await stub.CancelRun(pb.CancelRunRequest(run_id=run_id))
        assert (answer.outcome, answer.run.id) == ("requested", run_id)
        assert (await finished(channel, run_id))["status"] == "cancelled"
        assert (await stub.GetRun(pb.GetRunRequest(run_id=run_id))).run.status == "cancelled"
        return int(pid_file.read_text())

    pid = serve(tmp_path, scenario)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def rpc_error(tmp_path: Path, call: Callable[[pb_grpc.WorkflowServiceStub], Awaitable[Any]]) -> Any:
    """The status code, details and ``nestr-hint`` of the error ``call`` ends with."""

    async def scenario(stub: pb_grpc.WorkflowServiceStub, channel: aio.Channel) -> Any:
        with pytest.raises(aio.AioRpcError) as failed:
            await call(stub)
        error = failed.value
        hints = [v for k, v in error.trailing_metadata() or () if k == HINT_KEY]
        return error.code(), error.details(), hints

    return serve(tmp_path, scenario)


def test_an_unknown_workflow_is_not_found_with_the_clis_message_and_hint(tmp_path: Path) -> None:
    """StartRun of a workflow the manifest lacks ends NOT_FOUND with the message and the
    did-you-mean hint `nestr run` prints, the hint as trailing metadata nestr-hint."""
    manifest = project(tmp_path)
    code, details, hints = rpc_error(
        tmp_path, lambda stub: stub.StartRun(start_request(manifest, "gatd"))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    assert details == f"no workflow named 'gatd' in {manifest}"
    assert hints == ["did you mean 'gated'?"]


def test_an_unknown_run_is_not_found(tmp_path: Path) -> None:
    """GetRun of an id no run has ends NOT_FOUND naming it, with the CLI's hint."""
    code, details, hints = rpc_error(
        tmp_path, lambda stub: stub.GetRun(pb.GetRunRequest(run_id="feedc0de"))
    )
    assert (code, details, hints) == (
        grpc.StatusCode.NOT_FOUND,
        "no run matches 'feedc0de'",
        ["see `nestr runs list`"],
    )


def test_a_bad_workflow_file_is_invalid_argument_naming_file_and_line(tmp_path: Path) -> None:
    """A workflow whose step needs an unknown step ends INVALID_ARGUMENT with the file:line:column
    and field the CLI names, and the CLI's hint."""
    manifest = project(tmp_path, "bad:\n  steps:\n    - {id: a, run: 'true', needs: [nope]}\n")
    code, details, hints = rpc_error(
        tmp_path, lambda stub: stub.StartRun(start_request(manifest, "bad"))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith(f"{manifest}:6:")
    assert "workflows.bad.steps[0].needs[0]: unknown step 'nope'" in details
    assert hints == ["needs lists ids of other steps in this workflow"]


def test_a_bad_variable_is_invalid_argument(tmp_path: Path) -> None:
    """An input the workflow does not declare is refused INVALID_ARGUMENT before a run is
    recorded: ListRuns stays empty."""
    manifest = project(tmp_path)

    async def scenario(stub: pb_grpc.WorkflowServiceStub, channel: aio.Channel) -> Any:
        request = start_request(manifest, "gated", variables={"nope": "1"})
        with pytest.raises(aio.AioRpcError) as failed:
            await stub.StartRun(request)
        runs = await stub.ListRuns(pb.ListRunsRequest())
        return failed.value.code(), failed.value.details(), list(runs.runs)

    code, details, runs = serve(tmp_path, scenario)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "nope" in details
    assert runs == []


def test_workflow_calls_need_the_token(tmp_path: Path) -> None:
    """With server.token set, ListRuns without a token ends UNAUTHENTICATED and with it works;
    reflection lists nestr.v1.WorkflowService."""
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    async def scenario(stub: pb_grpc.WorkflowServiceStub, channel: aio.Channel) -> Any:
        with pytest.raises(aio.AioRpcError) as refused:
            await stub.ListRuns(pb.ListRunsRequest())
        runs = await stub.ListRuns(pb.ListRunsRequest(), metadata=AUTH)
        call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(metadata=AUTH)
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        answer = await call.read()
        await call.done_writing()
        names = {s.name for s in answer.list_services_response.service}
        return refused.value.code(), list(runs.runs), names

    code, runs, names = serve(tmp_path, scenario, token=TOKEN)
    assert (code, runs) == (grpc.StatusCode.UNAUTHENTICATED, [])
    assert "nestr.v1.WorkflowService" in names


def test_stopping_the_server_leaves_its_runs_to_a_resume(tmp_path: Path) -> None:
    """A run still going when the server stops is stopped before the store closes, for a
    shutdown and not a cancel: it shows interrupted (its step pending again, nothing recorded
    cancelled) and its step's process is gone."""
    manifest = project(tmp_path)
    pid_file = manifest.parent / "hang.pid"

    async def scenario(stub: pb_grpc.WorkflowServiceStub, channel: aio.Channel) -> str:
        run_id = (await stub.StartRun(start_request(manifest, "hang"))).run_id
        while not (pid_file.exists() and pid_file.read_text().strip()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # the step writes it: there is no event to wait on
        return run_id

    run_id = serve(tmp_path, scenario)
    with make_session(tmp_path / "state") as session:
        detail = session.queries.detail(run_id)
    assert shown_status(detail.run) == "interrupted"
    assert [s.status for s in detail.steps] == ["pending"]
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
