"""Client and publisher processes of the event-stream benchmark (``events_stream.py``).

    python benchmarks/_stream_client.py throughput ADDR SUBS PER_SUB AFTER_SEQ
    python benchmarks/_stream_client.py live ADDR SUBS EXPECTED AFTER_SEQ STALLED BUDGET_S
    python benchmarks/_stream_client.py idle ADDR SUBS
    python benchmarks/_stream_client.py publish STATE_DIR COUNT RATE

Each prints one JSON line with what it measured. ``live`` and ``idle`` first print ``ready``
once every stream is open, and ``idle`` holds its streams until its stdin closes. Streams go
over one channel (TCP connection) per subscriber, up to 100 channels, as separate clients would.
"""

from __future__ import annotations

import asyncio
import collections
import json
import statistics
import sys
import time
from pathlib import Path

import grpc
from grpc import aio

from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc

GUARD = 120.0  # seconds: a stream that hangs ends the measurement instead of the benchmark
MAX_CHANNELS = 100
DRAIN = 30.0  # seconds a stalled stream is read at the end to see how it ends


def _stubs(address: str, subs: int) -> tuple[list[aio.Channel], list[pb_grpc.EventServiceStub]]:
    channels = [aio.insecure_channel(address) for _ in range(min(subs, MAX_CHANNELS))]
    stubs = [pb_grpc.EventServiceStub(channels[i % len(channels)]) for i in range(subs)]  # type: ignore[no-untyped-call]
    return channels, stubs


async def _ready(channels: list[aio.Channel]) -> None:
    await asyncio.gather(*(c.channel_ready() for c in channels))


async def throughput(address: str, subs: int, per_sub: int, after: int) -> dict[str, float]:
    """Every subscriber reads ``per_sub`` events after ``after``; the time until the last one."""
    channels, stubs = _stubs(address, subs)
    await _ready(channels)

    messages = 0

    async def read(stub: pb_grpc.EventServiceStub) -> int:
        nonlocal messages
        got = 0
        call = stub.Subscribe(pb.SubscribeRequest(after_seq=after))
        async for response in call:
            messages += 1
            got += len(response.batch.events)
            if got >= per_sub:
                break
        call.cancel()
        return got

    start = time.perf_counter()
    counts = await asyncio.wait_for(asyncio.gather(*(read(s) for s in stubs)), GUARD)
    seconds = time.perf_counter() - start
    await asyncio.gather(*(c.close() for c in channels))
    return {"seconds": seconds, "events": float(sum(counts)), "messages": float(messages)}


async def live(
    address: str, subs: int, expected: int, after: int, stalled: bool, budget: float
) -> dict[str, object]:
    """Readers take ``expected`` events each, noting receive time − event time; a stalled
    subscriber (when asked) never reads until the end, then says how its stream ended."""
    channels, stubs = _stubs(address, subs + (1 if stalled else 0))
    await _ready(channels)
    latencies: list[float] = []
    calls = [s.Subscribe(pb.SubscribeRequest(after_seq=after)) for s in stubs]
    print("ready", flush=True)

    partial = [0] * subs
    endings: list[str] = ["late"] * subs  # stays "late" for a reader stopped by the budget

    async def read(index: int) -> None:
        try:
            async for response in calls[index]:
                now = time.time()
                for event in response.batch.events:
                    latencies.append(now - event.time.seconds - event.time.nanos / 1e9)
                partial[index] += len(response.batch.events)
                if partial[index] >= expected:
                    break
            endings[index] = "all read"
        except aio.AioRpcError as error:  # e.g. RESOURCE_EXHAUSTED: the reader fell behind
            endings[index] = str(error.code().name)

    # past the budget the readers stop: what they got by then is what was delivered in time
    tasks = [asyncio.create_task(read(i)) for i in range(subs)]
    _, late = await asyncio.wait(tasks, timeout=budget)
    for task in late:
        task.cancel()
    ending = "-"
    if stalled:
        ending = await _ending(calls[-1])
    for call in calls:
        call.cancel()
    await asyncio.gather(*(c.close() for c in channels))
    latencies.sort()
    return {
        "delivered": sum(partial),
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
        "stalled_ending": ending,
        "readers_ended": dict(collections.Counter(endings)),
    }


async def _ending(call: aio.UnaryStreamCall[pb.SubscribeRequest, pb.SubscribeResponse]) -> str:
    """Drain a stalled stream: how it ended (a status code) or "open" if it still runs
    after ``DRAIN`` seconds of reading."""
    try:
        async with asyncio.timeout(DRAIN):
            async for _ in call:
                pass
    except TimeoutError:
        return "open"
    except aio.AioRpcError as error:
        return str(error.code().name)
    return grpc.StatusCode.OK.name


async def idle(address: str, subs: int) -> dict[str, float]:
    """Open ``subs`` live-only streams, wait for a first message on each (the server's first
    heartbeat: the subscriber exists there), hold them until stdin closes."""
    channels, stubs = _stubs(address, subs)
    await _ready(channels)
    calls = [s.Subscribe(pb.SubscribeRequest(live_only=True)) for s in stubs]
    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(c.read() for c in calls)), GUARD)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for call in calls:
        call.cancel()
    await asyncio.gather(*(c.close() for c in channels))
    return {"first_message_s": time.perf_counter() - start}


def publish(state: Path, count: int, rate: float) -> dict[str, float]:
    """Append ``count`` events, one transaction each, at ``rate`` per second (0: at once)."""
    from nestr.events import Event
    from nestr.store.eventlog import open_event_bus

    bus = open_event_bus(state)
    start = time.perf_counter()
    for i in range(count):
        if rate:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        bus.publish(Event("nestr.bench.tick", {"i": i}, run_id="bench-run", repo="api"))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rate": count / seconds}


def main(argv: list[str]) -> None:
    kind, first, *rest = argv
    nums = [int(x) for x in rest]
    result: object
    if kind == "publish":
        result = publish(Path(first), nums[0], float(nums[1]))
    elif kind == "throughput":
        result = asyncio.run(throughput(first, *nums))
    elif kind == "live":
        result = asyncio.run(live(first, *nums[:3], bool(nums[3]), nums[4]))
    else:
        result = asyncio.run(idle(first, nums[0]))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
