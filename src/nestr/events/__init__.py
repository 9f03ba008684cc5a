"""Typed events and the bus every watcher subscribes to."""

from nestr.events.bus import EventBus, EventSink, SubscriberOverflow, Subscription
from nestr.events.envelope import Event

__all__ = ["Event", "EventBus", "EventSink", "SubscriberOverflow", "Subscription"]
