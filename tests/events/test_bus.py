"""The in-process bus: ordering, filtering, overflow that never blocks a publisher."""

from __future__ import annotations

import asyncio
import threading

import pytest

from nestr.events import Event, EventBus, SubscriberOverflow


class ListSink:
    """A sink that numbers events from 100, to prove publish goes through it first."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def append(self, event: Event) -> Event:
        stored = event.with_seq(100 + len(self.events))
        self.events.append(stored)
        return stored


def test_publish_numbers_events_and_delivers_in_order() -> None:
    """Without a sink the bus numbers events 1, 2, 3 and subscribers get them in order."""
    bus = EventBus()
    sub = bus.subscribe()
    for i in range(3):
        bus.publish(Event("nestr.test", {"i": i}))
    got = [sub.get(timeout=1) for _ in range(3)]
    assert [e.seq for e in got if e] == [1, 2, 3]
    assert [e.data["i"] for e in got if e] == [0, 1, 2]


def test_sink_stores_before_fan_out() -> None:
    """With a sink, subscribers see the seq the sink assigned, and the sink has the event first."""
    sink = ListSink()
    bus = EventBus(sink)
    seen_in_sink: list[int] = []
    bus.add_listener(lambda e: seen_in_sink.append(len(sink.events)))
    sub = bus.subscribe()
    bus.publish(Event("nestr.test"))
    event = sub.get(timeout=1)
    assert event is not None
    assert event.seq == 100
    assert seen_in_sink == [1]


def test_type_prefix_filters() -> None:
    """A subscriber with a type prefix receives only matching events."""
    bus = EventBus()
    sub = bus.subscribe(type_prefix="nestr.sync.")
    bus.publish(Event("nestr.workspace.repo.started"))
    bus.publish(Event("nestr.sync.file.merged"))
    event = sub.get(timeout=1)
    assert event is not None
    assert event.type == "nestr.sync.file.merged"
    assert sub.pending() == 0


def test_overflow_never_blocks_and_tells_where_to_resume() -> None:
    """A full subscriber is cut off; the publisher goes on; the subscriber learns the resume seq."""
    bus = EventBus()
    slow = bus.subscribe(maxsize=3)
    fast = bus.subscribe(maxsize=100)
    for i in range(10):
        bus.publish(Event("nestr.test", {"i": i}))
    assert fast.pending() == 10
    assert slow.pending() == 3  # disconnected at the first event it had no room for
    got = [slow.get(timeout=1) for _ in range(3)]
    assert [e.seq for e in got if e] == [1, 2, 3]
    with pytest.raises(SubscriberOverflow) as info:
        slow.get(timeout=1)
    assert info.value.resume_from == 4
    assert info.value.lost == 1
    bus.publish(Event("nestr.test"))
    assert fast.pending() == 11


def test_listener_errors_do_not_reach_the_publisher() -> None:
    """A broken listener is logged, not raised into the work that emitted."""
    bus = EventBus()

    def broken(event: Event) -> None:
        raise RuntimeError("watcher bug")

    remove = bus.add_listener(broken)
    assert bus.publish(Event("nestr.test")).seq == 1
    remove()
    remove()


def test_close_ends_iteration_after_draining() -> None:
    """A closed subscription hands out what it holds, then stops."""
    bus = EventBus()
    sub = bus.subscribe()
    bus.publish(Event("a"))
    sub.close()
    bus.publish(Event("b"))
    first = sub.get(timeout=1)
    assert first is not None
    assert first.type == "a"
    assert sub.get(timeout=0.01) is None


def test_async_consumer_wakes_for_events_from_other_threads() -> None:
    """An async subscriber is woken by events published from another thread."""

    async def consume() -> list[str]:
        bus = EventBus()
        sub = bus.subscribe()
        threading.Thread(target=lambda: [bus.publish(Event(f"t{i}")) for i in range(5)]).start()
        types = []
        async for event in sub:
            types.append(event.type)
            if len(types) == 5:
                sub.close()
        return types

    assert asyncio.run(asyncio.wait_for(consume(), 10)) == ["t0", "t1", "t2", "t3", "t4"]


def test_async_overflow_raises_for_the_consumer() -> None:
    """An async subscriber that overflowed gets SubscriberOverflow after draining."""

    async def consume() -> int:
        bus = EventBus()
        sub = bus.subscribe(maxsize=1)
        bus.publish(Event("a"))
        bus.publish(Event("b"))
        await sub.next()
        with pytest.raises(SubscriberOverflow) as info:
            await sub.next()
        return info.value.resume_from

    assert asyncio.run(consume()) == 2


def test_sync_subscription_cannot_be_awaited() -> None:
    """A subscription made outside a loop says how to consume asynchronously."""
    sub = EventBus().subscribe()
    with pytest.raises(RuntimeError, match="inside the event loop"):
        asyncio.run(sub.next())


def test_publish_stamps_the_correlation_id_of_the_action() -> None:
    """An event published inside correlation() without an id gets the action's id; one that
    has an id keeps it; outside any action it stays None."""
    from nestr.observability.context import correlation

    bus = EventBus()
    assert bus.publish(Event("nestr.test")).correlation_id is None
    with correlation("act-1"):
        assert bus.publish(Event("nestr.test")).correlation_id == "act-1"
        assert bus.publish(Event("nestr.test", correlation_id="other")).correlation_id == "other"
