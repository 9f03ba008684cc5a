"""Shared pieces of the webhook tests: endpoints, events in a real log, a dispatcher run."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.watchers.receiver import SECRET

from nestr.config.settings import Secret, WebhookEndpoint
from nestr.events.bus import EventBus
from nestr.events.envelope import Event
from nestr.store.eventlog import EventLog, open_event_log
from nestr.watchers.webhooks.dispatcher import Dispatcher


def endpoint(
    url: str, name: str = "ci", secrets: Sequence[str] = (SECRET,), **fields: object
) -> WebhookEndpoint:
    """An endpoint as the config builds it, retrying fast (tests wait on conditions)."""
    values: dict[str, object] = {"backoff": 0.01, "backoff_max": 0.05, "timeout": 5.0}
    values.update(fields)
    return WebhookEndpoint(
        name=name,
        url=url,
        secret=tuple(Secret(s) for s in secrets),
        **values,  # type: ignore[arg-type]
    )


def append(state: Path, count: int, type_: str = "nestr.workflow.step.log") -> list[Event]:
    """``count`` events appended to the log of ``state``, numbered."""
    log: EventLog = open_event_log(state)
    try:
        return [
            log.append(
                Event(
                    type_,
                    {"stream": "stdout", "text": f"line {n}", "attempt": 1},
                    run_id="run1",
                    correlation_id="c0ffee",
                )
            )
            for n in range(count)
        ]
    finally:
        log.close()


def dispatch(
    state: Path,
    endpoints: Sequence[WebhookEndpoint],
    until: Callable[[], None],
    *,
    before: Callable[[], object] = lambda: None,
) -> None:
    """Run a dispatcher over ``state``: ``before()`` once its endpoints are registered (append
    events there), then until ``until()`` returns (it waits on a receiver), then stop it."""

    async def main() -> None:
        sink = open_event_log(state)
        bus = EventBus(sink=sink)
        dispatcher = Dispatcher(
            endpoints, state_dir=state, bus=bus, poll=0.01, rng=random.Random(7)
        )
        dispatcher.register()
        before()
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        try:
            await asyncio.to_thread(until)
        finally:
            stop.set()
            await task
            sink.close()

    asyncio.run(main())


def eventually(predicate: Callable[[], object], timeout: float = 60.0) -> None:
    """Return once ``predicate()`` is true, checked every 10 ms; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s")
        time.sleep(0.01)


def logged(state: Path, type_prefix: str) -> list[Event]:
    """The events of the log of ``state`` whose type starts with ``type_prefix``."""
    log = open_event_log(state)
    try:
        return log.read(0, type_prefix)
    finally:
        log.close()
