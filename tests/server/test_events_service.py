"""``nestr.v1.EventService`` over a real gRPC channel on 127.0.0.1, the server in-process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from nestr.observability.context import correlation
from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.server.app import Keepalive, ServerConfigError, check_listen, start
from nestr.server.services.events import RESUME_KEY, StreamLimits

from .conftest import GUARD, TOKEN, fill, make_session, run_writer

Scenario = Callable[[aio.Channel, Any], Awaitable[Any]]
AUTH = (("authorization", f"Bearer {TOKEN}"),)


def serve(
    state: Path, scenario: Scenario, *, token: str | None = None, limits: StreamLimits | None = None
) -> Any:
    """Run ``scenario(channel, server)`` against a server on a free port of 127.0.0.1."""

    async def main() -> Any:
        session = make_session(state)
        server = await start(session, listen="127.0.0.1:0", token=token, limits=limits)
        try:
            async with aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                async with asyncio.timeout(GUARD):
                    return await scenario(channel, server)
        finally:
            await server.stop(0)
            session.close()

    return asyncio.run(main())


async def take_until(stream: Any, last: int) -> list[int]:
    """The seqs of the batches ``stream`` yields up to and including ``last`` (read with
    ``read()``: gRPC forbids mixing it with ``async for`` on one call)."""
    seqs: list[int] = []
    while not seqs or seqs[-1] < last:
        response = await stream.read()
        assert response is not aio.EOF
        seqs += [e.seq for e in response.batch.events]
    return seqs


async def take_into(stream: Any, seqs: list[int], progress: asyncio.Event) -> None:
    """Append the seqs ``stream`` delivers to ``seqs``, setting ``progress``, until cancelled."""
    while True:
        seqs.extend(e.seq for e in (await stream.read()).batch.events)
        progress.set()


def test_subscribe_replays_then_delivers_events_of_another_process(tmp_path: Path) -> None:
    """A stream from after_seq=2 gets 3..5 from the log, then the 30 events a separate process
    appends, each once and in seq order, with their envelope and data intact."""
    fill(tmp_path, 5)

    async def scenario(channel: aio.Channel, server: Any) -> tuple[list[int], list[pb.Event]]:
        stream = pb_grpc.EventServiceStub(channel).Subscribe(pb.SubscribeRequest(after_seq=2))
        replayed = await take_until(stream, 5)
        writer = asyncio.create_task(run_writer(tmp_path, 30))
        live: list[pb.Event] = []
        while not live or live[-1].seq < 35:
            live += (await stream.read()).batch.events
        await writer
        stream.cancel()
        return replayed, live

    replayed, live = serve(tmp_path, scenario)
    assert replayed == [3, 4, 5]
    assert [e.seq for e in live] == list(range(6, 36))
    first = live[0]
    assert (first.type, first.repo, json.loads(first.data_json)) == (
        "nestr.test.other",
        "web",
        {"i": 0},
    )
    assert first.source.startswith("nestr://")
    assert len(first.id) == 32
    assert first.severity == pb.SEVERITY_INFO
    assert first.time.seconds > 0


def test_subscribe_filters_by_type_run_and_repo(tmp_path: Path) -> None:
    """Type prefixes, run id and repo filters select exactly the matching events."""
    fill(tmp_path, 3, "nestr.workflow.step.started", run_id="r1", repo="api")
    fill(tmp_path, 3, "nestr.workflow.step.started", run_id="r2", repo="web")
    fill(tmp_path, 3, "nestr.sync.file.created", repo="api")

    async def first_batch(channel: aio.Channel, request: pb.SubscribeRequest) -> list[int]:
        stream = pb_grpc.EventServiceStub(channel).Subscribe(request)
        response = await stream.read()
        stream.cancel()
        return [e.seq for e in response.batch.events]

    async def scenario(channel: aio.Channel, server: Any) -> list[list[int]]:
        return [
            await first_batch(channel, pb.SubscribeRequest(types=["nestr.sync."])),
            await first_batch(channel, pb.SubscribeRequest(run_id="r2")),
            await first_batch(channel, pb.SubscribeRequest(repo="api")),
            await first_batch(channel, pb.SubscribeRequest(types=["nestr.workflow."], repo="api")),
        ]

    assert serve(tmp_path, scenario) == [[7, 8, 9], [4, 5, 6], [1, 2, 3, 7, 8, 9], [1, 2, 3]]


def test_live_only_skips_history_and_idle_streams_get_heartbeats(tmp_path: Path) -> None:
    """live_only ignores what is already stored; an idle stream gets a heartbeat with the head
    seq, and then the next appended event."""
    fill(tmp_path, 4)

    async def scenario(channel: aio.Channel, server: Any) -> tuple[Any, list[int]]:
        stream = pb_grpc.EventServiceStub(channel).Subscribe(pb.SubscribeRequest(live_only=True))
        beat = await stream.read()
        fill(tmp_path, 1)
        seqs = await take_until(stream, 5)
        stream.cancel()
        return beat, seqs

    beat, seqs = serve(tmp_path, scenario, limits=StreamLimits(heartbeat=0.05))
    assert beat.WhichOneof("kind") == "heartbeat"
    assert beat.heartbeat.head_seq == 4
    assert beat.heartbeat.server_time.seconds > 0
    assert seqs == [5]


def test_get_events_pages_through_history_and_head_reports_the_last_seq(tmp_path: Path) -> None:
    """GetEvents returns pages of `limit` events with the cursor of the next page, the last page
    marked end; a filter skips what does not match; Head is the last seq."""
    fill(tmp_path, 7)
    fill(tmp_path, 2, "nestr.test.new")

    async def scenario(channel: aio.Channel, server: Any) -> Any:
        stub = pb_grpc.EventServiceStub(channel)
        pages, after = [], 0
        while True:
            page = await stub.GetEvents(pb.GetEventsRequest(after_seq=after, limit=4))
            pages.append(([e.seq for e in page.events], page.next_after_seq, page.end))
            after = page.next_after_seq
            if page.end:
                break
        only_new = await stub.GetEvents(pb.GetEventsRequest(types=["nestr.test.new"]))
        head = await stub.Head(pb.HeadRequest())
        return pages, [e.seq for e in only_new.events], only_new.next_after_seq, head.head_seq

    pages, only_new, next_after, head = serve(tmp_path, scenario)
    assert pages == [([1, 2, 3, 4], 4, False), ([5, 6, 7, 8], 8, False), ([9], 9, True)]
    assert (only_new, next_after, head) == ([8, 9], 9, 9)


def test_a_token_is_required_on_unary_and_streaming_calls_but_not_health(tmp_path: Path) -> None:
    """With server.token set, Head and Subscribe without a token or with a wrong one end
    UNAUTHENTICATED (never echoing the token); with the right one they work; health needs none."""
    fill(tmp_path, 2)

    details: list[str] = []

    async def code_of(call: Awaitable[Any]) -> grpc.StatusCode:
        try:
            await call
        except aio.AioRpcError as error:
            details.append(error.details() or "")
            return error.code()
        return grpc.StatusCode.OK

    async def scenario(channel: aio.Channel, server: Any) -> list[grpc.StatusCode]:
        stub = pb_grpc.EventServiceStub(channel)
        wrong = (("authorization", "Bearer nope"),)
        codes = []
        for metadata in ((), wrong, AUTH):
            codes.append(await code_of(stub.Head(pb.HeadRequest(), metadata=metadata)))
            stream = stub.Subscribe(pb.SubscribeRequest(), metadata=metadata)
            codes.append(await code_of(stream.read()))
            stream.cancel()
        check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        codes.append(await code_of(check))
        return codes

    unauth, ok = grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.OK
    assert serve(tmp_path, scenario, token=TOKEN) == [unauth, unauth, unauth, unauth, ok, ok, ok]
    assert len(details) == 4
    assert all("bearer token" in text and TOKEN not in text for text in details)


def test_health_reports_serving_and_reflection_lists_the_event_service(tmp_path: Path) -> None:
    """grpc.health.v1 says SERVING for the server and EventService; reflection (token given)
    names nestr.v1.EventService and health among the services."""

    async def scenario(channel: aio.Channel, server: Any) -> tuple[list[int], list[str]]:
        health = health_pb2_grpc.HealthStub(channel)
        statuses = [
            (await health.Check(health_pb2.HealthCheckRequest(service=name))).status
            for name in ("", "nestr.v1.EventService")
        ]
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = stub.ServerReflectionInfo(metadata=AUTH)
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        answer = await call.read()
        await call.done_writing()
        services = [s.name for s in answer.list_services_response.service]
        return statuses, services

    statuses, services = serve(tmp_path, scenario, token=TOKEN)
    assert statuses == [health_pb2.HealthCheckResponse.SERVING] * 2
    assert {"nestr.v1.EventService", "grpc.health.v1.Health"} <= set(services)


def test_a_stalled_subscriber_is_ended_with_a_resume_seq_and_resumes_exactly_once(
    tmp_path: Path,
) -> None:
    """A subscriber that stops reading while events keep coming ends RESOURCE_EXHAUSTED with
    `nestr-resume-after-seq` once its queue is full, while another client reading meanwhile gets
    every event without being ended; what the stalled one received plus a new stream from the
    resume seq is every event exactly once."""
    fill(tmp_path, 3)
    big = "x" * 65_536  # large events fill the transport's buffers quickly

    async def scenario(channel: aio.Channel, server: Any) -> Any:
        stub = pb_grpc.EventServiceStub(channel)
        stream = stub.Subscribe(pb.SubscribeRequest(live_only=True))
        assert (await stream.read()).HasField("heartbeat")  # the stream is up: live from 3
        fill(tmp_path, 1)
        received = await take_until(stream, 4)  # delivered live: the stream is caught up
        other: list[int] = []
        async with aio.insecure_channel(f"127.0.0.1:{server.port}") as own:
            keeping_up = pb_grpc.EventServiceStub(own).Subscribe(pb.SubscribeRequest(after_seq=3))
            progress = asyncio.Event()
            reader = asyncio.create_task(take_into(keeping_up, other, progress))
            while server.events.overflows == 0:  # stalled: nothing is read meanwhile
                fill(tmp_path, 20, subject=big)
                await asyncio.sleep(0.05)
            head = (await stub.Head(pb.HeadRequest())).head_seq
            while not other or other[-1] < head:
                await progress.wait()
                progress.clear()
            reader.cancel()

        async def read_to_the_end() -> None:
            while True:
                received.extend(e.seq for e in (await stream.read()).batch.events)

        with pytest.raises(aio.AioRpcError) as ended:
            await read_to_the_end()
        trailing = dict(await stream.trailing_metadata())
        resume = int(trailing[RESUME_KEY])
        assert ended.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        rest = stub.Subscribe(pb.SubscribeRequest(after_seq=resume))
        received += await take_until(rest, head)
        rest.cancel()
        return received, other, resume, head, server.events.overflows

    received, other, resume, head, overflows = serve(
        tmp_path, scenario, limits=StreamLimits(queue=8, batch=4, heartbeat=0.2)
    )
    assert received == list(range(4, head + 1))
    assert other == list(range(4, head + 1))
    assert 4 <= resume < head
    assert overflows == 1


@pytest.mark.parametrize("listen", ["0.0.0.0:7433", "[::]:7433", "192.0.2.1:1", "example.com:1"])
def test_a_non_loopback_address_needs_a_token(listen: str) -> None:
    """Listening beyond loopback without a token is refused (exit 2); with one it is allowed."""
    with pytest.raises(ServerConfigError, match=r"not a loopback address") as refused:
        check_listen(listen, None)
    assert refused.value.exit_code == 2
    assert check_listen(listen, TOKEN)[1] == int(listen.rpartition(":")[2])
    assert check_listen("127.0.0.1:0", None) == ("127.0.0.1", 0)
    assert check_listen("localhost:9", None) == ("localhost", 9)


def test_concurrent_writers_and_reconnects_lose_and_repeat_nothing(tmp_path: Path) -> None:
    """Two processes append at once while the client drops its stream at arbitrary points and
    subscribes again after the last seq it got: the seqs received are 1..head, each once."""
    cuts = iter(sorted(random.Random(7).sample(range(5, 595), 8)))

    async def scenario(channel: aio.Channel, server: Any) -> list[int]:
        stub = pb_grpc.EventServiceStub(channel)
        writers = [asyncio.create_task(run_writer(tmp_path, 300)) for _ in range(2)]
        received: list[int] = []
        cut = next(cuts)
        stream = stub.Subscribe(pb.SubscribeRequest())
        while len(received) < 600:
            for event in (await stream.read()).batch.events:
                received.append(event.seq)
                if len(received) >= cut:  # disconnect mid-batch, resume after the last one kept
                    stream.cancel()
                    stream = stub.Subscribe(pb.SubscribeRequest(after_seq=received[-1]))
                    cut = next(cuts, 10**9)
                    break
        stream.cancel()
        await asyncio.gather(*writers)
        return received

    assert serve(tmp_path, scenario) == list(range(1, 601))


@pytest.mark.parametrize("listen", ["7433", "localhost", "host:port", ""])
def test_a_listen_value_without_a_port_is_refused(listen: str) -> None:
    """A server.listen that is not host:port is a usage error naming the setting (exit 2)."""
    with pytest.raises(ServerConfigError, match=r"server\.listen: .* is not host:port") as bad:
        check_listen(listen, TOKEN)
    assert bad.value.exit_code == 2
    assert bad.value.hint == "e.g. 127.0.0.1:7433"


def test_each_call_gets_its_own_correlation_id_or_the_one_it_sent(tmp_path: Path) -> None:
    """A call's initial metadata carries `x-correlation-id`: the client's when it sent a usable
    one, else a new one per call (never the serving process's), on unary and streaming calls,
    refused ones included."""

    async def scenario(channel: aio.Channel, server: Any) -> list[str]:
        stub = pb_grpc.EventServiceStub(channel)
        ids = []
        for metadata in (
            (*AUTH, ("x-correlation-id", "build-42")),
            (*AUTH, ("x-correlation-id", "not usable!")),
            AUTH,
            (),
        ):
            call = stub.Head(pb.HeadRequest(), metadata=metadata)
            ids.append(dict(await call.initial_metadata())["x-correlation-id"])
            with contextlib.suppress(aio.AioRpcError):
                await call
        stream = stub.Subscribe(pb.SubscribeRequest(), metadata=AUTH)
        ids.append(dict(await stream.initial_metadata())["x-correlation-id"])
        stream.cancel()
        return ids

    with correlation("the-serving-process") as outer:
        ids = serve(tmp_path, scenario, token=TOKEN)
    assert ids[0] == "build-42"
    generated = ids[1:]
    assert all(re.fullmatch(r"[0-9a-f]{32}", cid) for cid in generated), ids
    assert len(set(generated)) == len(generated)
    assert outer not in generated


class FreezingProxy:
    """A TCP relay to the server that can stop relaying while keeping both sockets open: to the
    server its client then looks alive at the TCP level but answers nothing (a dead peer)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.frozen = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers += [writer, upstream[1]]
        self.tasks += [
            asyncio.create_task(self._pump(reader, upstream[1])),
            asyncio.create_task(self._pump(upstream[0], writer)),
        ]

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65_536):
            if self.frozen.is_set():
                await asyncio.Event().wait()  # hold the bytes: nothing gets through any more
            writer.write(data)
            await writer.drain()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()
        self.server.close()
        await self.server.wait_closed()


def test_a_client_that_stops_answering_is_dropped_by_keepalive(tmp_path: Path) -> None:
    """A subscriber whose connection goes silent (no FIN, no answer to pings) has its stream
    ended by the server's keepalive, freeing what it held; one that answers is kept."""

    async def main() -> tuple[int, int]:
        session = make_session(tmp_path)
        keepalive = Keepalive(interval=0.2, timeout=0.2)
        server = await start(session, listen="127.0.0.1:0", token=None, keepalive=keepalive)
        proxy = FreezingProxy(server.port)
        try:
            async with asyncio.timeout(GUARD):
                address = f"127.0.0.1:{await proxy.start()}"
                async with aio.insecure_channel(address) as channel:
                    stream = pb_grpc.EventServiceStub(channel).Subscribe(pb.SubscribeRequest())
                    fill(tmp_path, 1)
                    await take_until(stream, 1)
                    await asyncio.sleep(1.0)  # several keepalive rounds, all answered
                    alive = server.events.active
                    proxy.frozen.set()
                    while server.events.active:  # noqa: ASYNC110 - a counter, not an event
                        await asyncio.sleep(0.05)
                    stream.cancel()
                    return alive, server.events.active
        finally:
            await proxy.close()
            await server.stop(0)
            session.close()

    assert asyncio.run(main()) == (1, 0)


def test_fifty_subscribers_get_the_same_seqs_while_another_process_appends(
    tmp_path: Path,
) -> None:
    """Fifty streams opened while a separate process appends (each replaying from the log while
    the shared follower already fans out) all receive 1..head, each seq once and in order."""
    fill(tmp_path, 10)

    async def scenario(channel: aio.Channel, server: Any) -> tuple[list[list[int]], int]:
        stub = pb_grpc.EventServiceStub(channel)
        writer = asyncio.create_task(run_writer(tmp_path, 300))
        streams = []
        for _ in range(50):
            streams.append(stub.Subscribe(pb.SubscribeRequest()))
            await asyncio.sleep(0)  # let the others progress: subscribers join mid-append
        received = await asyncio.gather(*(take_until(stream, 310) for stream in streams))
        await writer
        for stream in streams:
            stream.cancel()
        return list(received), server.events.hub.follows

    received, follows = serve(tmp_path, scenario)
    assert all(seqs == list(range(1, 311)) for seqs in received)
    assert follows == 1


def test_the_hub_runs_one_follower_however_many_streams_are_open(tmp_path: Path) -> None:
    """Opening 1, then 10, then 40 streams registers each with the hub but starts one follower
    of the log, which delivers the next event to all of them."""
    fill(tmp_path, 2)

    async def scenario(channel: aio.Channel, server: Any) -> tuple[list[Any], list[list[int]]]:
        stub = pb_grpc.EventServiceStub(channel)
        hub = server.events.hub
        streams: list[Any] = []
        counts = []
        for total in (1, 10, 40):
            while len(streams) < total:
                stream = stub.Subscribe(pb.SubscribeRequest(live_only=True))
                assert (await stream.read()).HasField("heartbeat")  # registered on the server
                streams.append(stream)
            counts.append((len(hub.feeds), hub.follows))
        fill(tmp_path, 1)
        received = await asyncio.gather(*(take_until(stream, 3) for stream in streams))
        for stream in streams:
            stream.cancel()
        return counts, list(received)

    counts, received = serve(tmp_path, scenario, limits=StreamLimits(heartbeat=0.05))
    assert counts == [(1, 1), (10, 1), (40, 1)]
    assert received == [[3]] * 40
