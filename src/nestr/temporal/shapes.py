"""What crosses Temporal: the inputs and results of the run workflow and of its activity.

Plain dataclasses of JSON values (Temporal's default converter encodes them), imported by the
workflow inside the sandbox: standard library only. Payloads stay small: a step's input names
its run and key; the run's definition travels once, in the workflow's input, and workers
fetch it by query (cached by the plan's hash); a step's result carries its small outputs, a
bounded error and where its log is (:class:`LogPlace`), never the log itself; an output over
``temporal.inline_outputs`` stays in the worker's store and crosses as a
:class:`StoredOutput`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKFLOW_NAME = "nestr.run"
ACTIVITY_NAME = "nestr.step"
CANCEL_SIGNAL = "nestr.cancel"
PROGRESS_QUERY = "nestr.progress"
DEFINITION_QUERY = "nestr.definition"
FAILURE_TYPE = "NestrStepFailed"  # the ApplicationError type of a failed try
TIMEOUT_TYPE = "NestrStepTimedOut"


@dataclass
class NodeSpec:
    """One instance as the workflow schedules it, with its activity's options."""

    key: str
    needs: list[str] = field(default_factory=list)
    continue_on_error: bool = False
    attempts: int = 1
    initial: float = 1.0
    max_interval: float = 30.0
    exponential: bool = True
    timeout: float | None = None  # one try's timeout (seconds)
    reads_scope: bool = False  # its expressions read other steps: send states and outputs
    queue: str | None = None  # a host's queue when it touches a checkout, else the run's


@dataclass
class RunContext:
    """What a worker rebuilds the plan from: the run's record, as the submitter wrote it."""

    run_id: str
    definition: dict[str, Any]
    selected: dict[str, list[dict[str, Any]]]
    inputs: dict[str, Any]
    root: str
    manifest: str | None
    plan_hash: str


@dataclass
class RunInput:
    """The workflow's input: the scheduling of the plan, and its context for workers."""

    context: RunContext
    nodes: list[NodeSpec]
    limit: int = 1
    fail_fast: bool = True
    heartbeat: float = 10.0  # heartbeat timeout of every try (seconds)
    done: dict[str, dict[str, str]] = field(default_factory=dict)  # outputs of resumed ones
    compensates: bool = False  # a step declares ``compensate:``: undo after a failure
    # how the instances a retry leaves as they were ended (failed, skipped, cancelled)
    ended: dict[str, str] = field(default_factory=dict)
    # set when a resume continues the compensations of a run whose steps ended so
    compensating: str | None = None


@dataclass
class LogPlace:
    """Where a try's log is kept: the store (``state_dir``) of the worker on ``host``."""

    host: str
    state_dir: str
    attempt: int


@dataclass
class StoredOutput:
    """An output too large for history: kept in a file of the worker on ``host``."""

    host: str
    path: str
    size: int  # bytes (UTF-8)


@dataclass
class StepInput:
    """One activity: the instance ``key`` of the run, with what its expressions read."""

    run_id: str
    plan_hash: str
    key: str
    states: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    stored: dict[str, dict[str, StoredOutput]] = field(default_factory=dict)


@dataclass
class StepResult:
    """How an activity ended its instance (a failed try raises instead)."""

    status: str  # succeeded | skipped | failed (failed only when it could not be prepared)
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    attempt: int = 1
    stored: dict[str, StoredOutput] = field(default_factory=dict)  # outputs by reference
    log: LogPlace | None = None


@dataclass
class StepState:
    """One instance's state in the workflow, as the progress query and the result give it."""

    status: str
    attempts: int = 0
    error: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    stored: dict[str, StoredOutput] = field(default_factory=dict)
    log: LogPlace | None = None


@dataclass
class RunOutcome:
    """How the run ended (the workflow's result, and the progress query's answer)."""

    status: str  # running | succeeded | failed | cancelled
    steps: dict[str, StepState] = field(default_factory=dict)
    plan_hash: str = ""
    version: int = 0  # the progress query's: the number of the last change it includes
    # how its compensations ended (running while they run), None when none ran; with
    # ``outcome``, how its steps ended (failed | cancelled) before they were undone
    compensation: str | None = None
    outcome: str | None = None
