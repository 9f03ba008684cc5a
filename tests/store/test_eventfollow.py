"""Replay-then-live follow of the event log: every event once, in seq order, from anywhere."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from nestr.events import Event, EventBus
from nestr.store.eventfollow import Filter, follow
from nestr.store.eventlog import open_event_bus, open_event_log

GUARD = 60  # seconds: a hung follower fails the test instead of hanging the suite


def fill(state: Path, count: int, type: str = "nestr.test.old") -> None:
    log = open_event_log(state)
    for _ in range(count):
        log.append(Event(type))
    log.close()


async def take_until(
    stream: AsyncIterator[Event], last_seq: int, also: Callable[[Event], None] | None = None
) -> list[int]:
    """The seqs ``stream`` yields up to and including ``last_seq``."""
    seqs: list[int] = []
    async with asyncio.timeout(GUARD):
        async for event in stream:
            assert event.seq is not None
            seqs.append(event.seq)
            if also is not None:
                also(event)
            if event.seq >= last_seq:
                break
    return seqs


def writer_script(state: Path, count: int, type: str = "nestr.test.other") -> str:
    return textwrap.dedent(
        f"""
        from pathlib import Path
        from nestr.events import Event
        from nestr.store.eventlog import open_event_bus
        bus = open_event_bus(Path({str(state)!r}))
        for i in range({count}):
            bus.publish(Event({type!r}, {{"i": i}}, repo="api" if i % 2 else "web"))
        """
    )


async def run_writer(state: Path, count: int, type: str = "nestr.test.other") -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", writer_script(state, count, type)
    )
    assert await proc.wait() == 0


def test_replays_from_the_cursor_then_sees_another_process(tmp_path: Path) -> None:
    """Events after the cursor are replayed, then those a second process appends arrive, each
    once and in seq order."""
    fill(tmp_path, 5)
    log = open_event_log(tmp_path)

    async def main() -> list[int]:
        stream = follow(log, 2, poll=0.01)
        replayed = [e.seq async for e in _first(stream, 3)]
        writer = asyncio.create_task(run_writer(tmp_path, 20))
        live = await take_until(stream, 25)
        await writer
        await stream.aclose()
        return [s for s in replayed if s is not None] + live

    assert asyncio.run(main()) == list(range(3, 26))
    log.close()


@pytest.mark.parametrize("shared", [True, False], ids=["one-connection", "two-connections"])
def test_in_process_events_published_during_replay_arrive_once_in_order(
    tmp_path: Path, shared: bool
) -> None:
    """Events published on the durable bus while a long replay is being read (at seq 10 and
    2500 of 3000): the follower yields every seq exactly once, in order. Through one connection
    (a server's store) commits are never seen by polling, so this holds only because the live
    queue was registered before the replay began."""
    fill(tmp_path, 3000)
    log = open_event_log(tmp_path)
    bus = EventBus(sink=log) if shared else open_event_bus(tmp_path)

    def publish_during_replay(event: Event) -> None:
        if event.seq in {10, 2500}:
            for i in range(100):
                bus.publish(Event("nestr.test.live", {"i": i}))

    async def main() -> list[int]:
        stream = follow(log, 0, bus=bus, poll=0.01)
        return await take_until(stream, 3200, publish_during_replay)

    assert asyncio.run(main()) == list(range(1, 3201))
    log.close()


def test_mixed_in_process_and_other_process_events_fill_the_gaps(tmp_path: Path) -> None:
    """In-process events whose seqs jump over another process's events: those are read from
    the log first, so the order stays the log's and nothing is skipped or repeated."""
    bus = open_event_bus(tmp_path)
    log = open_event_log(tmp_path)

    async def main() -> list[int]:
        stream = follow(log, 0, bus=bus, poll=0.01)
        bus.publish(Event("nestr.test.a"))  # before the follower starts: replayed
        first = await take_until(stream, 1)
        await run_writer(tmp_path, 3)  # seqs 2-4, committed by another process
        bus.publish(Event("nestr.test.b"))  # seq 5: arrives live, after a gap
        bus.publish(Event("nestr.test.c"))  # seq 6
        rest = await take_until(stream, 6)
        await stream.aclose()
        return first + rest

    assert asyncio.run(main()) == [1, 2, 3, 4, 5, 6]
    log.close()


def test_a_follower_that_overflows_catches_up_from_the_log(tmp_path: Path) -> None:
    """More in-process events than the follower's queue holds: it is disconnected by the bus,
    subscribes again and reads what it lost from the log; every seq arrives once (one
    connection: polling alone would never notice the lost events)."""
    log = open_event_log(tmp_path)
    bus = EventBus(sink=log)

    async def main() -> list[int]:
        stream = follow(log, 0, bus=bus, poll=0.01, queue=5)

        def burst(event: Event) -> None:
            if event.seq == 1:
                for _ in range(50):
                    bus.publish(Event("nestr.test.burst"))

        bus.publish(Event("nestr.test.first"))
        return await take_until(stream, 51, burst)

    assert asyncio.run(main()) == list(range(1, 52))
    log.close()


def test_filters_apply_to_the_replay_and_to_live_events(tmp_path: Path) -> None:
    """Type prefixes, run and repo filters select the same events whether they are replayed,
    published in-process or appended by another process."""
    bus = open_event_bus(tmp_path)
    log = open_event_log(tmp_path)
    for repo in ("api", "web"):
        bus.publish(Event("nestr.test.other", repo=repo))
        bus.publish(Event("nestr.sync.file.created", repo=repo))
        bus.publish(Event("nestr.test.other", repo=repo, run_id="r1"))

    async def main() -> list[tuple[int | None, str]]:
        where = Filter(("nestr.test.", "nestr.workspace."), repo="api")
        stream = follow(log, 0, bus=bus, where=where, poll=0.01)
        seen: list[Event] = []
        async with asyncio.timeout(GUARD):
            seen += [e async for e in _first(stream, 2)]  # replayed: seqs 1 and 3
            bus.publish(Event("nestr.workspace.repo.started", repo="api"))  # 7: wanted
            bus.publish(Event("nestr.workspace.repo.started", repo="web"))  # 8: not
            await run_writer(tmp_path, 4)  # 9-12: api at 10 and 12
            seen += [e async for e in _first(stream, 3)]
        await stream.aclose()
        return [(e.seq, e.type) for e in seen]

    assert asyncio.run(main()) == [
        (1, "nestr.test.other"),
        (3, "nestr.test.other"),
        (7, "nestr.workspace.repo.started"),
        (10, "nestr.test.other"),
        (12, "nestr.test.other"),
    ]
    run_only = asyncio.run(_collect(follow(log, 0, where=Filter(run_id="r1"), stop=lambda: True)))
    assert run_only == [3, 6]
    log.close()


def test_stop_ends_the_follow_after_what_was_committed(tmp_path: Path) -> None:
    """When stop() says so the follower still yields every event committed before, then ends;
    with after_seq None it yields only events appended after it started."""
    fill(tmp_path, 3)
    log = open_event_log(tmp_path)
    assert asyncio.run(_collect(follow(log, 1, stop=lambda: True))) == [2, 3]
    assert asyncio.run(_collect(follow(log, None, stop=lambda: True))) == []
    log.close()


async def _first(stream: AsyncIterator[Event], count: int) -> AsyncIterator[Event]:
    for _ in range(count):
        yield await anext(stream)


async def _collect(stream: AsyncIterator[Event]) -> list[int | None]:
    async with asyncio.timeout(GUARD):
        return [e.seq async for e in stream]
