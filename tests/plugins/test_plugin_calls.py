"""The host's tally of plugin calls: published in batches, never lost at the end."""

from __future__ import annotations

import asyncio

from nestr.events.catalog import PluginCalls
from nestr.plugins.calls import FLUSH_CALLS, CallTally


def test_a_full_batch_is_published_at_once_and_the_rest_on_flush() -> None:
    """FLUSH_CALLS calls of a plugin make one event as the last one is counted; a call left
    waiting is published by flush(), which the host calls when it closes."""
    published: list[PluginCalls] = []
    tally = CallTally(published.append)
    for _ in range(FLUSH_CALLS + 1):
        tally.record("echo", "echo.say", "succeeded", 0.001)
    assert [len(p["calls"]) for p in published] == [FLUSH_CALLS]
    tally.record("other", "other.x", "failed", 0.5)
    tally.flush()
    assert [(p["plugin"], len(p["calls"])) for p in published[1:]] == [("echo", 1), ("other", 1)]
    assert published[2]["calls"] == [{"step_type": "other.x", "outcome": "failed", "seconds": 0.5}]
    tally.flush()
    assert len(published) == 3


def test_a_lone_call_is_published_soon_without_a_flush() -> None:
    """A call counted on an event loop is published by a timer of that loop, even when no
    other call and no flush follow (a server's idle plugin still shows in the metrics)."""

    async def scenario() -> list[PluginCalls]:
        published: list[PluginCalls] = []
        arrived = asyncio.Event()
        tally = CallTally(lambda data: (published.append(data), arrived.set()))
        tally.record("echo", "echo.say", "succeeded", 0.002)
        await asyncio.wait_for(arrived.wait(), 30)
        return published

    assert [p["plugin"] for p in asyncio.run(scenario())] == ["echo"]
