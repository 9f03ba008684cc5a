"""``EventService.Publish`` over a real gRPC channel: other processes' events taken into the
server's log once each, refused when malformed, behind the server's token."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio

from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.server.services.events import StreamLimits

from .conftest import TOKEN, fill
from .test_events_service import AUTH, serve


def worker_event(n: int, **fields: Any) -> pb.Event:
    """An event as a worker's log holds it (its own seq, id, source and time)."""
    time = Timestamp()
    time.FromDatetime(datetime(2026, 12, 7, 10, 0, n, 250000, tzinfo=UTC))
    values: dict[str, Any] = {
        "seq": 900 + n,
        "id": f"{n:032x}",
        "source": "nestr://worker-host/77",
        "type": "nestr.workflow.step.finished",
        "time": time,
        "run_id": "run1",
        "step": f"s{n}",
        "repo": "api",
        "correlation_id": "c" * 32,
        "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        "severity": pb.SEVERITY_WARNING,
        "data_json": json.dumps({"temporal": {"workflow_id": "nestr-run1", "run_id": "t"}}),
    }
    values.update(fields)
    return pb.Event(**values)


def test_published_events_are_stored_once_with_their_envelope_and_reach_subscribers(
    tmp_path: Path,
) -> None:
    """A batch published twice is in the log once, after the server's own events, with the
    envelope it was sent with and the server's seqs; a live subscriber receives it."""
    fill(tmp_path, 2)
    batch = [worker_event(n) for n in range(3)]

    async def scenario(channel: aio.Channel, server: Any) -> Any:
        stub = pb_grpc.EventServiceStub(channel)
        stream = stub.Subscribe(pb.SubscribeRequest(live_only=True))
        assert (await stream.read()).HasField("heartbeat")  # the stream is up: live from 2
        first = await stub.Publish(pb.PublishRequest(events=batch))
        again = await stub.Publish(pb.PublishRequest(events=batch))
        live: list[pb.Event] = []
        while len(live) < 3:
            live += (await stream.read()).batch.events
        stream.cancel()
        page = await stub.GetEvents(pb.GetEventsRequest())
        return first, again, live, page

    first, again, live, page = serve(tmp_path, scenario, limits=StreamLimits(heartbeat=0.05))
    assert (first.stored, first.duplicates, first.head_seq) == (3, 0, 5)
    assert (again.stored, again.duplicates, again.head_seq) == (0, 3, 5)
    assert [e.seq for e in page.events] == [1, 2, 3, 4, 5]
    for sent, stored in zip(batch, page.events[2:], strict=True):
        assert json.loads(stored.data_json) == json.loads(sent.data_json)
        expected, got = pb.Event(), pb.Event()
        expected.CopyFrom(sent)
        got.CopyFrom(stored)
        expected.seq, expected.data_json, got.data_json = stored.seq, "", ""
        assert got == expected  # every other field of the envelope as sent
    assert [e.id for e in live] == [e.id for e in batch]


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"id": "not-hex"}, "id must be 32 lowercase hex digits"),
        ({"data_json": "[1, 2]"}, "data_json is not a JSON object"),
        ({"data_json": json.dumps({"x": "y" * (1 << 20)})}, "more than 1048576"),
        ({"type": ""}, "is not a dotted name"),
        ({"source": ""}, "source is empty"),
        ({"severity": 9}, "severity 9 is unknown"),
    ],
)
def test_a_malformed_event_refuses_the_batch_naming_it(
    tmp_path: Path, bad: dict[str, Any], says: str
) -> None:
    """A batch with one malformed or oversize event ends INVALID_ARGUMENT naming the event
    (its index and id) and what is wrong, and stores none of the batch."""

    async def scenario(channel: aio.Channel, server: Any) -> Any:
        stub = pb_grpc.EventServiceStub(channel)
        batch = [worker_event(0), worker_event(1, **bad)]
        with pytest.raises(aio.AioRpcError) as refused:
            await stub.Publish(pb.PublishRequest(events=batch))
        return refused.value, await stub.Head(pb.HeadRequest())

    error, head = serve(tmp_path, scenario)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("events[1]: event ")
    assert says in error.details()
    assert head.head_seq == 0


def test_an_event_without_a_time_is_refused(tmp_path: Path) -> None:
    """An event sent without its time is refused: the server never stamps one of its own."""

    async def scenario(channel: aio.Channel, server: Any) -> aio.AioRpcError:
        event = worker_event(0)
        event.ClearField("time")
        with pytest.raises(aio.AioRpcError) as refused:
            await pb_grpc.EventServiceStub(channel).Publish(pb.PublishRequest(events=[event]))
        return refused.value

    error = serve(tmp_path, scenario)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "events[0]" in error.details()
    assert "time is missing" in error.details()


def test_publish_needs_the_server_token(tmp_path: Path) -> None:
    """Publish is behind the server's bearer token like every RPC: without it the call ends
    UNAUTHENTICATED and nothing is stored; with it the events are."""

    async def scenario(channel: aio.Channel, server: Any) -> Any:
        stub = pb_grpc.EventServiceStub(channel)
        request = pb.PublishRequest(events=[worker_event(0)])
        with pytest.raises(aio.AioRpcError) as denied:
            await stub.Publish(request)
        head = await stub.Head(pb.HeadRequest(), metadata=AUTH)
        taken = await stub.Publish(request, metadata=AUTH)
        return denied.value.code(), head.head_seq, taken.stored

    code, head, stored = serve(tmp_path, scenario, token=TOKEN)
    assert (code, head, stored) == (grpc.StatusCode.UNAUTHENTICATED, 0, 1)


def test_concurrent_publishes_of_one_batch_store_it_once(tmp_path: Path) -> None:
    """Ten calls sending the same batch at once (retries racing a slow reply) store it once."""
    batch = [worker_event(n) for n in range(50)]

    async def scenario(channel: aio.Channel, server: Any) -> Any:
        stub = pb_grpc.EventServiceStub(channel)
        calls = [stub.Publish(pb.PublishRequest(events=batch)) for _ in range(10)]
        replies = await asyncio.gather(*calls)
        return replies, await stub.Head(pb.HeadRequest())

    replies, head = serve(tmp_path, scenario)
    assert sum(r.stored for r in replies) == 50
    assert head.head_seq == 50
