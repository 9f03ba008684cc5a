"""What a bridge step may use while it runs, whoever runs it.

A bridge step is ``async def step(with_, ctx) -> outputs``: ``with_`` holds the step's rendered
``with:`` values and ``ctx`` a :class:`BridgeContext`. In-process, :mod:`nestr.bridges.steps`
offers one over the engine's :class:`~nestr.workflow.protocols.StepContext` and the run's store;
an out-of-process plugin offers one over its protocol's stream. A step fails by raising
:class:`~nestr.workflow.protocols.StepFailed` with a message and, where it helps, a hint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from nestr.workflow.protocols import Outputs, StepFailed

__all__ = ["BridgeContext", "BridgeStep", "Outputs", "StepFailed", "failed"]


class BridgeContext(Protocol):
    """The run as a bridge step sees it."""

    @property
    def env(self) -> Mapping[str, str]:
        """The step's environment (``OLLAMA_HOST`` is read from it)."""
        ...

    def log(self, text: str, *, stream: str = "stdout") -> None:
        """Append ``text`` to the step's log (stored, and published as log events)."""
        ...

    def emit(self, type: str, data: Mapping[str, Any]) -> None:
        """Publish an event of the step (stamped with its run and step)."""
        ...

    def outputs(self) -> Mapping[str, Mapping[str, str]]:
        """Outputs of the run's earlier step instances, by instance key."""
        ...

    def statuses(self) -> Mapping[str, str]:
        """Status of the run's step instances, by instance key."""
        ...

    def log_tail(self, key: str, lines: int = 20) -> str:
        """The last ``lines`` lines a step instance printed (stdout and stderr)."""
        ...


BridgeStep = Callable[[Mapping[str, Any], BridgeContext], Awaitable[Outputs]]


def failed(message: str, hint: str | None = None) -> StepFailed:
    """A step failure whose message ends with what the user can do about it."""
    return StepFailed(f"{message} (hint: {hint})" if hint else message)
