"""Typed events, the bus every watcher subscribes to, and the durable log behind it.

``EventLog``/``open_event_bus`` live in ``nestr.events.log`` and are imported from there (or
lazily from here) so importing the bus does not open SQLite.
"""

from typing import Any

from nestr.events.bus import EventBus, EventSink, SubscriberOverflow, Subscription
from nestr.events.envelope import Event

__all__ = [
    "Event",
    "EventBus",
    "EventLog",
    "EventSink",
    "SubscriberOverflow",
    "Subscription",
    "open_event_bus",
    "open_event_log",
]


def __getattr__(name: str) -> Any:
    if name in {"EventLog", "open_event_bus", "open_event_log"}:
        from nestr.events import log

        return getattr(log, name)
    raise AttributeError(name)
