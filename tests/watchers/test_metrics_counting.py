"""The endpoint's counter of the log: this process's events and other processes', each once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import generate_latest

from nestr.config.settings import Settings
from nestr.events import Event
from nestr.session import Session
from nestr.store.eventlog import open_event_log
from nestr.watchers.metrics import EventMetrics
from nestr.watchers.metrics_endpoint import PAGE, LogCounter

from .metrics_helpers import samples, value

STARTED = "nestr.workflow.step.started"


def recording() -> tuple[EventMetrics, list[int]]:
    """Metrics whose ``observe`` also notes the ``seq`` of each event it counts."""
    metrics = EventMetrics()
    seen: list[int] = []
    original = metrics.observe
    metrics.observe = lambda e: (seen.append(e.seq or 0), original(e))[-1]  # type: ignore[method-assign]
    return metrics, seen


def test_handed_and_logged_events_are_counted_once_in_order(tmp_path: Path) -> None:
    """Events published on the session's bus and events another connection appends between
    them are all counted, each once: the bus's in memory, the gaps read from the log; events
    handed over again (already counted) change nothing."""

    async def main() -> tuple[EventMetrics, list[int]]:
        session = Session(Settings(state_dir=tmp_path), cwd=tmp_path)
        metrics, seen = recording()
        counter = LogCounter(session, metrics)
        remove = session.bus.add_listener(counter.handed.append)
        other = open_event_log(tmp_path)
        for i in range(2):
            session.bus.publish(Event(STARTED, {"attempt": i}))
        for i in range(3):
            other.append(Event(STARTED, {"attempt": i}))  # another process, as it were
        again = session.bus.publish(Event(STARTED, {"attempt": 9}))
        await counter.count()
        counter.handed.append(again)  # handed over twice: counted once
        other.append(Event("nestr.test.elsewhere", {}))
        await counter.count()
        remove()
        other.close()
        session.close()
        return metrics, seen

    metrics, seen = asyncio.run(main())
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    found = samples(generate_latest(metrics.registry()).decode())
    assert value(found, "nestr_events_total", type=STARTED) == 6
    assert value(found, "nestr_events_total", type="other") == 1
    assert value(found, "nestr_event_seq") == 7


def test_a_long_history_is_replayed_in_pages(tmp_path: Path) -> None:
    """A log longer than a page, written before the counter started, is counted whole on its
    first turn."""
    log = open_event_log(tmp_path)
    for i in range(PAGE * 2 + 5):
        log.append(Event(STARTED, {"attempt": i}))
    log.close()

    async def main() -> EventMetrics:
        with Session(Settings(state_dir=tmp_path), cwd=tmp_path) as session:
            metrics = EventMetrics()
            await LogCounter(session, metrics).count()
            return metrics

    assert asyncio.run(main()).last_seq == PAGE * 2 + 5


def test_events_handed_over_out_of_order_are_counted_in_seq_order(tmp_path: Path) -> None:
    """Two threads may hand their events over in the other order: the later one waits for
    the log to give the earlier one first, and neither is counted twice."""

    async def main() -> list[int]:
        session = Session(Settings(state_dir=tmp_path), cwd=tmp_path)
        metrics, seen = recording()
        counter = LogCounter(session, metrics)
        published = [session.bus.publish(Event(STARTED, {"attempt": i})) for i in range(4)]
        counter.handed.extend([published[0], published[2], published[1], published[3]])
        await counter.count()
        await counter.count()  # nothing new: nothing counted again
        session.close()
        return seen

    assert asyncio.run(main()) == [1, 2, 3, 4]
