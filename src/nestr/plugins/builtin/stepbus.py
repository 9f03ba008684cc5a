"""A bus for library calls made by a step, whose events become the step's own.

Library operations (an assembly, a sync) publish on an :class:`~nestr.events.bus.EventBus`; a
step hands them one whose sink is the step's ``emit``, so every event lands in the run's
durable log with the run id, the step's key and (unless the event names one) the step's repo.
"""

from __future__ import annotations

from typing import Any

from nestr.events.bus import EventBus
from nestr.events.envelope import Event
from nestr.workflow.protocols import Emit, StepContext

_PASSED = ("subject", "repo", "correlation_id", "traceparent")  # kept when the event sets them


class _StepSink:
    """An event sink that publishes each event through a step's ``emit``."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit

    def append(self, event: Event) -> Event:
        fields: dict[str, Any] = {k: getattr(event, k) for k in _PASSED if getattr(event, k)}
        return self._emit(event.type, event.data, severity=event.severity, **fields)


def step_bus(ctx: StepContext) -> EventBus:
    """A bus whose events are published as ``ctx``'s step's (see the module docstring)."""
    return EventBus(sink=_StepSink(ctx.emit))
