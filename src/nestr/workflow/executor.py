"""The executor interface: what runs a planned workflow, locally or (later) on Temporal.

An executor takes a :class:`RunSpec` — a run already recorded in the store, its plan, inputs
and the instances a previous attempt finished — and drives it to an end, recording every state
change in the store and publishing every event on the bus. Workflow definitions never depend
on which executor runs them. Run and resume build theirs with an :class:`ExecutorFactory`,
chosen by the ``executor`` setting (:func:`executor_factory`) or passed in; every executor
takes its scheduling decisions from ``nestr.workflow.schedule`` and runs tries with
``nestr.workflow.attempt``.

A run stops early for one of two reasons (:data:`StopReason`): a *cancel* (a user asked:
``nestr runs cancel``, ``CancelRun``, Ctrl-C on ``nestr run``) ends it ``cancelled``; a
*shutdown* (the process running it is going away: ``nestr serve`` on SIGTERM) kills its
steps' processes but records nothing as ended, and leaves the run to a resume (shown
``interrupted``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from nestr.config.settings import Settings
from nestr.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError
from nestr.store.records import RunStatus, ShownRunStatus, StepRecord, StepStatus
from nestr.workflow.plan import Plan

if TYPE_CHECKING:
    import asyncio

    from nestr.events.bus import EventBus
    from nestr.store.runs import RunStore
    from nestr.workflow.options import ExecutorOptions
    from nestr.workflow.registry import StepRegistry


COMPENSATION_PREFIX = "compensate:"  # the keys of compensations (nestr.workflow.saga)
StopReason = Literal["cancel", "shutdown"]
"""Why a run stops before its end: see the module docstring."""


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
    # ended otherwise before and kept so: a retry of one step leaves the run's other failures,
    # and a resume of a compensating run its steps and finished compensations
    ended: Mapping[str, StepStatus] = field(default_factory=dict)
    # set when a resume continues the compensations of a run whose steps ended so
    compensating: RunStatus | None = None
    retried: tuple[str, ...] = ()  # the keys a retry of an ended run runs again
    # a resume of a run that had ended (failed or cancelled): an engine that ran it elsewhere
    # runs what is left anew instead of attaching to the run's ended execution
    reopened: bool = False
    claim: int = 0  # 0 for a new run, n for its n-th resume (part of $NESTR_OUTPUT's path)
    settings: Settings = field(default_factory=Settings)  # what steps get as ctx.settings


@dataclass(frozen=True)
class RunResult:
    """How a run ended, with every step instance as stored."""

    run_id: str
    workflow: str
    # succeeded | failed | cancelled; interrupted: stopped by a shutdown, left to a resume
    status: ShownRunStatus
    steps: tuple[StepRecord, ...]  # with its compensations (keys ``compensate:KEY``), last
    seconds: float
    compensation: str | None = None  # how its compensations ended, when any ran

    @property
    def forward(self) -> list[StepRecord]:
        """The run's own step instances, without its compensations."""
        return [s for s in self.steps if not s.key.startswith(COMPENSATION_PREFIX)]

    @property
    def compensations(self) -> list[StepRecord]:
        """The compensations that ran (or were to run) after a failure or a cancel."""
        return [s for s in self.steps if s.key.startswith(COMPENSATION_PREFIX)]

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    @property
    def exit_code(self) -> int:
        """0 succeeded, 1 failed, 130 cancelled or interrupted (the CLI's exit codes)."""
        stopped = {"cancelled", "interrupted"}
        if self.status == "succeeded":
            return EXIT_OK
        return EXIT_INTERRUPTED if self.status in stopped else EXIT_FAILED

    def counts(self) -> dict[str, int]:
        """The run's own instances per status."""
        return status_counts(self.forward)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "counts": self.counts(),
            "steps": [s.to_dict() for s in self.forward],
            "compensated": self.compensation is not None,
            "compensation": self.compensation,
            "compensations": [s.to_dict() for s in self.compensations],
        }


def status_counts(steps: list[StepRecord]) -> dict[str, int]:
    """How many of ``steps`` have each status."""
    out: dict[str, int] = {}
    for step in steps:
        out[step.status] = out.get(step.status, 0) + 1
    return out


class Executor(Protocol):
    """Drives one run to its end."""

    async def execute(self, spec: RunSpec) -> RunResult:
        """Run every instance of ``spec.plan`` not in ``spec.done``; return how it ended."""
        ...


@runtime_checkable
class Refuses(Protocol):
    """An executor that does not run every spec: it is asked before the run is recorded or
    taken over, so a refused run leaves the store as it was."""

    def refuse(self, spec: RunSpec) -> None:
        """Raise a :class:`~nestr.errors.UsageError` for a spec this executor cannot run."""
        ...

    def cancel(self) -> None:
        """Ask the run to stop: running steps are killed, pending ones cancelled; the run
        ends ``cancelled``."""
        ...

    def shutdown(self) -> None:
        """Stop the run because its process is going away: running steps are killed, but
        nothing is recorded as ended; the run ends ``interrupted``, left to a resume that
        runs every step not recorded ``succeeded``."""
        ...


@dataclass(frozen=True)
class ExecutorSetup:
    """What an executor of one run or resume is built with."""

    store: RunStore
    bus: EventBus
    registry: StepRegistry
    options: ExecutorOptions
    cancel: asyncio.Event | None = None  # cancels the run when set
    shutdown: asyncio.Event | None = None  # stops the run for a shutdown when set


class ExecutorFactory(Protocol):
    """Builds the executor of one run (``LocalExecutor`` is one; a Temporal one comes later)."""

    def __call__(self, setup: ExecutorSetup) -> Executor:
        """An executor that records into ``setup.store`` and publishes on ``setup.bus``."""
        ...


def local_executor(setup: ExecutorSetup) -> Executor:
    """The executor of the ``local`` setting: asyncio in this process, recorded in SQLite."""
    from nestr.workflow.local import LocalExecutor

    return LocalExecutor(
        setup.store,
        setup.bus,
        registry=setup.registry,
        options=setup.options,
        cancel=setup.cancel,
        shutdown=setup.shutdown,
    )


EXECUTORS: dict[str, ExecutorFactory] = {"local": local_executor}
"""Executors by the name the ``executor`` setting gives; others (``temporal``) come from the
``nestr.executors`` entry points, so the engine never imports the face that provides them."""

ENTRY_POINTS = "nestr.executors"


def executor_factory(name: str) -> ExecutorFactory:
    """The factory of the executor named ``name``: a built-in one, else the ``nestr.executors``
    entry point of that name (loaded only when asked for)."""
    if name in EXECUTORS:
        return EXECUTORS[name]
    from importlib.metadata import entry_points

    found = entry_points(group=ENTRY_POINTS, name=name)
    if found:
        factory: ExecutorFactory = next(iter(found)).load()
        return factory
    known = sorted({*EXECUTORS, *(e.name for e in entry_points(group=ENTRY_POINTS))})
    raise UsageError(f"unknown executor {name!r}", hint=f"choose one of {', '.join(known)}")
