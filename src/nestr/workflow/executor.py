"""The executor interface: what runs a planned workflow, locally or (later) on Temporal.

An executor takes a :class:`RunSpec` — a run already recorded in the store, its plan, inputs
and the instances a previous attempt finished — and drives it to an end, recording every state
change in the store and publishing every event on the bus. Workflow definitions never depend
on which executor runs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nestr.config.settings import Settings
from nestr.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from nestr.store.records import StepRecord
from nestr.workflow.plan import Plan


@dataclass(frozen=True)
class RunSpec:
    """One run for an executor to drive."""

    run_id: str
    plan: Plan
    inputs: Mapping[str, Any]
    root: Path  # workspace root, or the manifest directory without a workspace
    state_dir: Path
    manifest_path: Path | None = None
    done: Mapping[str, StepRecord] = field(default_factory=dict)  # succeeded before (resume)
    prior_attempts: Mapping[str, int] = field(default_factory=dict)  # attempts made before
    claim: int = 0  # 0 for a new run, n for its n-th resume (part of $NESTR_OUTPUT's path)
    settings: Settings = field(default_factory=Settings)  # what steps get as ctx.settings


@dataclass(frozen=True)
class RunResult:
    """How a run ended, with every step instance as stored."""

    run_id: str
    workflow: str
    status: str  # succeeded | failed | cancelled
    steps: tuple[StepRecord, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    @property
    def exit_code(self) -> int:
        """0 succeeded, 1 failed, 130 cancelled (the CLI's exit codes)."""
        return {"succeeded": EXIT_OK, "cancelled": EXIT_INTERRUPTED}.get(self.status, EXIT_FAILED)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step in self.steps:
            out[step.status] = out.get(step.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "counts": self.counts(),
            "steps": [s.to_dict() for s in self.steps],
        }


class Executor(Protocol):
    """Drives one run to its end."""

    async def execute(self, spec: RunSpec) -> RunResult:
        """Run every instance of ``spec.plan`` not in ``spec.done``; return how it ended."""
        ...

    def cancel(self) -> None:
        """Ask the run to stop: running steps are killed, pending ones cancelled."""
        ...
