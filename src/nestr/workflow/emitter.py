"""The ``emit`` a step is given: its events go on the run's bus, stamped with where they happened.

A step (or a library call it makes, such as an assembly) reports progress as events; stamped
with the run id, the step's key and its repo they are found in the run's durable log beside the
step's own ``started``/``finished`` events, e.g. ``nestr events --run RUN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nestr.events.bus import EventBus
from nestr.events.envelope import Event


class StepEmitter:
    """Publishes events of one step instance on ``bus`` (implements
    :class:`~nestr.workflow.protocols.Emit`). One is made per try, so it is a plain slotted
    class: a frozen dataclass costs several times as much to build, on every step."""

    __slots__ = ("bus", "repo", "run_id", "step")

    def __init__(self, bus: EventBus, run_id: str, step: str, repo: str | None = None) -> None:
        self.bus, self.run_id, self.step, self.repo = bus, run_id, step, repo

    def __call__(self, type: str, data: Mapping[str, Any] | None = None, **fields: Any) -> Event:
        """Publish ``type``; ``run_id`` and ``step`` are always this step's, ``repo`` unless
        ``fields`` names one (an assembly's per-repo events)."""
        fields.setdefault("repo", self.repo)
        fields["run_id"], fields["step"] = self.run_id, self.step
        return self.bus.publish(Event(type=type, data=dict(data or {}), **fields))
