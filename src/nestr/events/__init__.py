"""Typed events: the envelope, the catalogue of event types and the bus every watcher subscribes to.

A vocabulary leaf: nothing here knows how events are stored (the durable log is
``nestr.store.eventlog``). Names are loaded on first use, so importing ``nestr.events.catalog``
(every producer does) does not import the bus and asyncio with it.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nestr.events.bus import EventBus, EventSink, SubscriberOverflow, Subscription
    from nestr.events.envelope import Event

__all__ = ["Event", "EventBus", "EventSink", "SubscriberOverflow", "Subscription"]

_HOMES = {
    "Event": "nestr.events.envelope",
    "EventBus": "nestr.events.bus",
    "EventSink": "nestr.events.bus",
    "SubscriberOverflow": "nestr.events.bus",
    "Subscription": "nestr.events.bus",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'nestr.events' has no attribute {name!r}")
