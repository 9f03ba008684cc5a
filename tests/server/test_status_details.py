"""`google.rpc` details on failed calls, read back with `grpc_status.rpc_status` over a real
channel: ErrorInfo on every nestr error, BadRequest for bad input, ResourceInfo for NOT_FOUND,
RetryInfo for an overflowing subscriber."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import google.rpc.error_details_pb2 as ed
import grpc
import pytest
from google.protobuf.message import Message
from grpc import aio
from grpc_status import rpc_status

from nestr.errors import InputError, ManifestError, MultipleInputErrors, SourceLocation
from nestr.server._proto import events_pb2 as events
from nestr.server._proto import events_pb2_grpc as events_grpc
from nestr.server._proto import workflow_pb2 as pb
from nestr.server._proto import workflow_pb2_grpc as pb_grpc
from nestr.server.app import start
from nestr.server.details import DOMAIN, error_details, reason
from nestr.server.errors import HINT_KEY
from nestr.server.services.events import RESUME_KEY, StreamLimits
from nestr.store.runs import RunBusy

from .conftest import fill, make_session
from .test_events_service import serve

BAD = "bad:\n  steps:\n    - {id: a, run: 'true', needs: [nope]}\n"


def unpack(status: Any) -> dict[str, Message]:
    """The details of a google.rpc.Status by their message name (one of each kind)."""
    found: dict[str, Message] = {}
    for packed in status.details:
        for kind in (ed.ErrorInfo, ed.BadRequest, ed.ResourceInfo, ed.RetryInfo):
            if packed.Is(kind.DESCRIPTOR):
                detail = kind()
                packed.Unpack(detail)
                found[kind.DESCRIPTOR.name] = detail
    return found


def failed_status(tmp_path: Path, request: pb.StartRunRequest | pb.GetRunRequest) -> Any:
    """The (code, details, nestr-hint, google.rpc.Status) of a workflow call that fails, made
    with a blocking client in a thread and read with ``rpc_status.from_call``."""

    def call(port: int) -> Any:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.WorkflowServiceStub(channel)
            method = stub.StartRun if isinstance(request, pb.StartRunRequest) else stub.GetRun
            with pytest.raises(grpc.RpcError) as failed:
                method(request, timeout=30)
            error: Any = failed.value
            hints = [v for k, v in error.trailing_metadata() if k == HINT_KEY]
            return error.code(), error.details(), hints, rpc_status.from_call(error)

    async def main() -> Any:
        session = make_session(tmp_path / "state")
        server = await start(session, listen="127.0.0.1:0", token=None)
        try:
            return await asyncio.to_thread(call, server.port)
        finally:
            await server.stop(0)
            session.close()

    return asyncio.run(main())


def test_bad_input_carries_error_info_and_a_field_violation_at_its_location(
    tmp_path: Path,
) -> None:
    """A workflow naming an unknown step: INVALID_ARGUMENT whose Status has an ErrorInfo (the
    error class, nestr.dev, exit code 2 and the hint that nestr-hint also carries) and a
    BadRequest whose one violation's field is the file:line:col and key the message starts
    with."""
    root = tmp_path / "project"
    root.mkdir()
    manifest = root / "nestr.yaml"
    body = textwrap.indent(BAD, "  ")
    manifest.write_text(f"version: 1\nrepos: []\nworkflows:\n{body}", encoding="utf-8")
    request = pb.StartRunRequest(workflow="bad", manifest=str(manifest))
    code, message, hints, status = failed_status(tmp_path, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert (status.code, status.message) == (code.value[0], message)
    found = unpack(status)
    info = found["ErrorInfo"]
    assert (info.reason, info.domain) == ("WORKFLOW_DEFINITION_ERROR", DOMAIN)
    assert dict(info.metadata) == {"exit_code": "2", "hint": hints[0]}
    [violation] = found["BadRequest"].field_violations
    assert violation.field.startswith(f"{manifest}:6:")
    assert violation.field.endswith(": workflows.bad.steps[0].needs[0]")
    assert message == f"{violation.field}: {violation.description}"


def test_not_found_carries_the_resource_looked_for(tmp_path: Path) -> None:
    """GetRun of an unknown id: NOT_FOUND whose Status has a ResourceInfo naming a run and the
    id given, and no BadRequest."""
    code, message, _, status = failed_status(tmp_path, pb.GetRunRequest(run_id="feedc0de"))
    assert code == grpc.StatusCode.NOT_FOUND
    found = unpack(status)
    resource = found["ResourceInfo"]
    assert (resource.resource_type, resource.resource_name) == ("run", "feedc0de")
    assert resource.description == message
    assert found["ErrorInfo"].reason == "NOT_FOUND"
    assert "BadRequest" not in found


def test_an_overflowing_subscriber_gets_retry_info_and_its_resume_seq(tmp_path: Path) -> None:
    """A stalled live subscriber ends RESOURCE_EXHAUSTED; its Status (read with
    rpc_status.aio.from_call) says retry at once (RetryInfo 0 s) from the seq that
    nestr-resume-after-seq names too."""
    state = tmp_path / "state"
    fill(state, 1)
    big = "x" * 65_536  # large events fill the transport's buffers quickly

    async def scenario(channel: aio.Channel, server: Any) -> Any:
        stub = events_grpc.EventServiceStub(channel)
        stream = stub.Subscribe(events.SubscribeRequest(live_only=True))
        assert (await stream.read()).HasField("heartbeat")
        fill(state, 1)
        assert [e.seq for e in (await stream.read()).batch.events] == [2]  # caught up
        while server.events.overflows == 0:  # stalled: nothing is read meanwhile
            fill(state, 20, subject=big)
            await asyncio.sleep(0.05)

        async def read_to_the_end() -> None:
            while True:
                await stream.read()

        with pytest.raises(aio.AioRpcError) as ended:
            await read_to_the_end()
        trailing = dict(await stream.trailing_metadata())
        return ended.value.code(), trailing[RESUME_KEY], await rpc_status.aio.from_call(stream)

    limits = StreamLimits(queue=8, batch=4, heartbeat=0.2)  # streams queue 8 events at most
    code, resume, status = serve(state, scenario, limits=limits)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    found = unpack(status)
    info: Any = found["ErrorInfo"]
    retry: Any = found["RetryInfo"]
    assert (info.reason, dict(info.metadata)) == (
        "SUBSCRIBER_OVERFLOW",
        {"resume_after_seq": resume},
    )
    assert retry.retry_delay.ToTimedelta().total_seconds() == 0


def test_several_problems_are_one_violation_each_and_preconditions_say_which() -> None:
    """A MultipleInputErrors gives one field violation per problem, in the order its message
    lists them (an error without a location names just its key); a busy run gives a
    PreconditionFailure of type RUN_BUSY."""
    where = SourceLocation(file=Path("/p/nestr.yaml"), line=3, column=5)
    error = MultipleInputErrors(
        [ManifestError("no", location=where, field="repos[0].url"), InputError("x", field="k")]
    )
    details = error_details(error, grpc.StatusCode.INVALID_ARGUMENT)
    request = next(d for d in details if isinstance(d, ed.BadRequest))
    assert [(v.field, v.description) for v in request.field_violations] == [
        ("/p/nestr.yaml:3:5: repos[0].url", "no"),
        ("k", "x"),
    ]
    busy = error_details(RunBusy("run r is running"), grpc.StatusCode.FAILED_PRECONDITION)
    failure = next(d for d in busy if isinstance(d, ed.PreconditionFailure))
    assert [(v.type, v.description) for v in failure.violations] == [
        ("RUN_BUSY", "run r is running")
    ]
    assert reason(error) == "MULTIPLE_INPUT_ERRORS"
