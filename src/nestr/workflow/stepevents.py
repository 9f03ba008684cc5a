"""The events of a run's step instances (``nestr.workflow.step.*`` in the catalogue)."""

from __future__ import annotations

from typing import Any, cast

from nestr.events.catalog import D, EventType
from nestr.events.envelope import Event, Severity
from nestr.observability.context import current_correlation_id
from nestr.observability.tracing import traceparent
from nestr.workflow.plan import Instance


class StepEvents:
    """Makes the events of one run's instances."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def event(
        self,
        instance: Instance,
        type: EventType[D],
        data: D,
        severity: Severity | None = None,
    ) -> Event:
        """The ``type`` event of ``instance``; its severity is ``error`` when ``data`` reports a
        failure, else ``info``, unless given."""
        return Event(
            type.name,
            cast("dict[str, Any]", data),
            subject=instance.key,
            run_id=self.run_id,
            step=instance.key,
            repo=instance.repo.name if instance.repo else None,
            correlation_id=current_correlation_id(),  # stored before the bus could stamp it
            traceparent=traceparent(),  # the try's span, when tracing
            severity=severity or ("error" if data.get("status") == "failed" else "info"),
        )
