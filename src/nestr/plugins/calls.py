"""The tally of plugin step calls, reported in batches as ``nestr.plugin.calls`` events.

Every ``Execute`` of a plugin step is counted (plugin, step type, outcome, wall time) for the
metrics watcher. Appending an event of its own for each call would cost a warm call a tenth of
its time (a transaction of the event log each), so calls are kept here and published together:
one event per plugin once :data:`FLUSH_CALLS` calls are waiting, or :data:`FLUSH_SECONDS` after
the first one waited, and whatever waits when the host closes. A nestr killed by SIGKILL loses
the calls of its last second from the metrics (never from the runs' own records).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from nestr.events.catalog import PluginCallRecord, PluginCalls

FLUSH_CALLS = 256  # calls of one plugin published in one event at most
FLUSH_SECONDS = 1.0  # the longest a call waits to be published

Publish = Callable[[PluginCalls], None]


class CallTally:
    """Calls waiting to be published, by plugin."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self._waiting: dict[str, list[PluginCallRecord]] = {}
        self._lock = threading.Lock()

    def record(self, plugin: str, step_type: str, outcome: str, seconds: float) -> None:
        """Count one call; publish the plugin's batch when it is full (or soon after)."""
        call = PluginCallRecord(step_type=step_type, outcome=outcome, seconds=round(seconds, 6))
        with self._lock:
            waiting = self._waiting.setdefault(plugin, [])
            waiting.append(call)
            full, first = len(waiting) >= FLUSH_CALLS, len(waiting) == 1
        if full:
            self.flush(plugin)
        elif first:
            _later(lambda: self.flush(plugin))

    def flush(self, plugin: str | None = None) -> None:
        """Publish what waits (of ``plugin``, or of every plugin)."""
        with self._lock:
            names = [plugin] if plugin is not None else list(self._waiting)
            batches = [(name, self._waiting.pop(name, [])) for name in names]
        for name, calls in batches:
            if calls:
                self._publish(PluginCalls(plugin=name, calls=calls))


def _later(flush: Callable[[], None]) -> None:
    """Run ``flush`` after :data:`FLUSH_SECONDS`, on the running loop (a step's) or a timer."""
    try:
        asyncio.get_running_loop().call_later(FLUSH_SECONDS, flush)
    except RuntimeError:  # no loop: a call made from a thread
        timer = threading.Timer(FLUSH_SECONDS, flush)
        timer.daemon = True
        timer.start()
