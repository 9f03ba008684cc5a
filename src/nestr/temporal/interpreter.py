"""The Temporal workflow that runs a nestr plan: the pure scheduler, driven from history.

Every decision — what starts, what is skipped, when a failure stops the run, how it ended —
is ``nestr.workflow.schedule.Schedule``'s, fed the ends of activities in the order the
history gives them, so a replay takes the same decisions. Each started instance is one
activity (``activity_id`` = the instance key) on the run's task queue, or on the queue of the
host that holds its checkout; its retries and timeouts are the step's, mapped to Temporal's
retry policy, start-to-close and heartbeat timeouts. A cancel (Temporal's workflow
cancellation, or the ``nestr.cancel`` signal) goes to the schedule, whose interrupts cancel the
running activities and wait for their processes to end. The workflow returns a
:class:`~nestr.temporal.shapes.RunOutcome` (it completes even when the run failed or was
cancelled: the run's status is in the result).

A run that failed or was cancelled then compensates, as on the local executor: the workflow
rebuilds the plan from its input and ``nestr.workflow.saga`` decides, from the instances'
states, which compensations (``compensate:KEY``) run and in which order; each is an activity
with the step's retry policy and timeout, and a cancel does not stop them. The input of a
resume of a run stopped while it compensated (``compensating``) goes straight to that phase,
keeping the compensations that ended before. The input of a retry keeps the instances it does
not run again as they ended (``ended``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import CancelledError as TemporalCancelled

with workflow.unsafe.imports_passed_through():
    from nestr.temporal.shapes import (
        ACTIVITY_NAME,
        CANCEL_SIGNAL,
        DEFINITION_QUERY,
        PROGRESS_QUERY,
        WORKFLOW_NAME,
        LogPlace,
        NodeSpec,
        RunContext,
        RunInput,
        RunOutcome,
        StepInput,
        StepResult,
        StepState,
        StoredOutput,
    )
    from nestr.workflow.model import Workflow
    from nestr.workflow.plan import build_plan, repo_from
    from nestr.workflow.saga import PREFIX, Saga, compensations, outcome
    from nestr.workflow.schedule import Interrupt, Node, Outcome, Schedule, Settle, Start

if TYPE_CHECKING:
    from nestr.store.records import StepStatus

NO_TIMEOUT = timedelta(days=7)  # start-to-close of a step without a timeout: its heartbeat
TIMEOUT_MARGIN = 30.0  # the worker enforces a step's timeout; Temporal's is a backstop


@workflow.defn(name=WORKFLOW_NAME)
class NestrRun:
    """One nestr run; see the module docstring."""

    def __init__(self) -> None:
        self._input: RunInput | None = None
        self._steps: dict[str, StepState] = {}
        self._status = "running"
        self._cancel = False
        self._ended: list[tuple[str, Outcome]] = []  # activity ends, in history order
        self._told = False  # the schedule knows of the cancel
        self._changed: dict[str, int] = {}  # key -> the change number of its last change
        self._version = 0  # changes so far
        self._compensation: str | None = None  # how the compensations ended, once they run
        self._outcome: str | None = None  # how the steps ended, once compensations run

    @workflow.run
    async def run(self, run: RunInput) -> RunOutcome:
        self._input = run
        nodes = {node.key: node for node in run.nodes}
        self._steps = {key: StepState("pending") for key in nodes}
        for key, outputs in run.done.items():
            self._steps[key] = StepState("succeeded", outputs=dict(outputs))
        for key, status in run.ended.items():  # a retry: kept as they ended
            self._steps[key] = StepState(status)
        if run.compensating is not None:  # a resume of a run stopped while it compensated
            self._status = run.compensating
            await self._compensate(run, nodes, resumed=True)
            return self._result()
        schedule = Schedule(
            (Node(n.key, tuple(n.needs), n.continue_on_error) for n in run.nodes),
            done=run.done,
            ended=cast("dict[str, StepStatus]", run.ended),
            limit=run.limit,
            fail_fast=run.fail_fast,
        )
        await self._drive(run, schedule, nodes, cancellable=True)
        self._status = schedule.final_status()
        if self._status in {"failed", "cancelled"} and run.compensates:
            await self._compensate(run, nodes)
        return self._result()

    async def _drive(
        self, run: RunInput, schedule: Schedule, nodes: dict[str, NodeSpec], *, cancellable: bool
    ) -> None:
        """Start, settle and interrupt instances as ``schedule`` says until it is over; a
        cancel reaches the schedule only when ``cancellable`` (an undo is never stopped)."""
        handles: dict[str, asyncio.Task[None]] = {}
        while True:
            if cancellable and self._cancel and not self._told:
                schedule.cancel()
                self._told = True
            for action in schedule.advance():
                if isinstance(action, Start):
                    handles[action.key] = task = asyncio.create_task(
                        self._step(run, nodes[action.key])
                    )
                    task.add_done_callback(self._unstarted(action.key))
                elif isinstance(action, Settle):
                    self._steps[action.key] = StepState(action.status, error=action.reason)
                    self._touch(action.key)
                elif isinstance(action, Interrupt) and action.key in handles:
                    handles[action.key].cancel()
            if schedule.over:
                return
            try:
                await workflow.wait_condition(self._news)
            except asyncio.CancelledError:  # the workflow was cancelled: stop the run
                self._cancel = True
            ended, self._ended = self._ended, []
            for key, ending in ended:
                handles.pop(key, None)
                schedule.finished(key, ending)

    async def _compensate(
        self, run: RunInput, nodes: dict[str, NodeSpec], *, resumed: bool = False
    ) -> None:
        """The second phase of a failed or cancelled run: the compensations the saga
        decides from the instances' states, each with its step's activity options. A
        ``resumed`` one keeps the compensations that ended before (in the input's ``done``
        and ``ended``) and runs the others."""
        saga = self._saga(run)
        if not saga.keys:
            return
        self._outcome, self._compensation = self._status, "running"
        kept = {*run.done, *run.ended} if resumed else set()
        undo: dict[str, NodeSpec] = {}
        for instance in saga.plan.instances:
            step = nodes[instance.key.removeprefix(PREFIX)]
            undo[instance.key] = replace(
                step, key=instance.key, needs=list(instance.needs), reads_scope=True
            )
            if instance.key not in kept:
                self._steps[instance.key] = StepState("pending")
                self._touch(instance.key)
        schedule = saga.schedule(limit=run.limit)
        if resumed:
            ended = cast("dict[str, StepStatus]", run.ended)
            schedule = saga.schedule(done=run.done, ended=ended, limit=run.limit)
        await self._drive(run, schedule, undo, cancellable=False)
        self._compensation = outcome({k: self._steps[k].status for k in saga.keys})

    def _saga(self, run: RunInput) -> Saga:
        """The run's compensations: its plan, rebuilt from the input, and its states."""
        context = run.context
        selected = {k: [repo_from(r) for r in v] for k, v in context.selected.items()}
        plan = build_plan(Workflow.from_dict(context.definition), selected)
        return compensations(plan, {k: s.status for k, s in self._steps.items()})

    def _unstarted(self, key: str) -> Callable[[asyncio.Task[None]], None]:
        """What reports ``key`` cancelled when its task was cancelled before it began (its
        own handler never ran)."""

        def done(task: asyncio.Task[None]) -> None:
            if task.cancelled() and self._steps[key].status in {"pending", "running"}:
                self._end(key, "cancelled", "cancelled")

        return done

    def _news(self) -> bool:
        """Something the schedule must be told: an activity ended, or a cancel came."""
        stoppable = self._compensation is None  # a cancel never stops compensations
        return bool(self._ended) or (stoppable and self._cancel != self._told)

    async def _step(self, run: RunInput, node: NodeSpec) -> None:
        """Run one instance as an activity and queue its end for the schedule."""
        state = self._steps[node.key]
        state.status = "running"
        self._touch(node.key)
        scope = self._scope(node)
        try:
            result = await workflow.execute_activity(
                ACTIVITY_NAME,
                StepInput(run.context.run_id, run.context.plan_hash, node.key, *scope),
                result_type=StepResult,
                activity_id=node.key,
                task_queue=node.queue or workflow.info().task_queue,
                start_to_close_timeout=_start_to_close(node),
                heartbeat_timeout=timedelta(seconds=run.heartbeat),
                retry_policy=_retry_policy(node),
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except asyncio.CancelledError:
            self._end(node.key, "cancelled", "cancelled")
            return
        except ActivityError as exc:
            outcome, error, attempts = _failure(exc)
            state.attempts = attempts or node.attempts
            state.log = _place(exc)
            self._end(node.key, outcome, error)
            return
        state.outputs = dict(result.outputs)
        state.stored = dict(result.stored)
        state.log = result.log
        state.attempts = result.attempt
        ended: Outcome = "succeeded"
        if result.status in {"skipped", "failed"}:
            ended = "skipped" if result.status == "skipped" else "failed"
        self._end(node.key, ended, result.error)

    def _end(self, key: str, outcome: Outcome, error: str | None) -> None:
        state = self._steps[key]
        self._touch(key)
        state.status = outcome
        state.error = error
        self._ended.append((key, outcome))

    def _touch(self, key: str) -> None:
        """Note that ``key``'s state changed (the progress query sends only changes)."""
        self._version += 1
        self._changed[key] = self._version

    def _scope(
        self, node: NodeSpec
    ) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, dict[str, StoredOutput]]]:
        """The states and outputs (inline, and references to stored ones) an instance's
        expressions read (none for most steps)."""
        if not node.reads_scope:
            return {}, {}, {}
        states = {key: state.status for key, state in self._steps.items()}
        outputs = {key: state.outputs for key, state in self._steps.items() if state.outputs}
        stored = {key: state.stored for key, state in self._steps.items() if state.stored}
        return states, outputs, stored

    def _result(self) -> RunOutcome:
        assert self._input is not None
        plan = self._input.context.plan_hash
        ended = RunOutcome(self._status, dict(self._steps), plan)
        ended.compensation, ended.outcome = self._compensation, self._outcome
        return ended

    @workflow.signal(name=CANCEL_SIGNAL)
    def cancel(self) -> None:
        """Stop the run, as a workflow cancellation does."""
        self._cancel = True

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self, since: int) -> RunOutcome:
        """The state of every instance that changed after change number ``since`` (0: all
        that changed), and the number of the last change (``version``), to ask from next."""
        if self._input is None:
            return RunOutcome("running")
        changed = {k: self._steps[k] for k, number in self._changed.items() if number > since}
        plan = self._input.context.plan_hash
        progress = RunOutcome("running", changed, plan, version=self._version)
        progress.compensation, progress.outcome = self._compensation, self._outcome
        return progress

    @workflow.query(name=DEFINITION_QUERY)
    def definition(self) -> RunContext:
        """What a worker rebuilds the plan from."""
        assert self._input is not None
        return self._input.context


def _retry_policy(node: NodeSpec) -> RetryPolicy:
    """The step's ``retry:`` waits as Temporal's policy (Temporal has no jitter). The count
    of tries is the worker's: it marks the failure of a step's last try non-retryable, so
    the attempts left unlimited here only retry tries lost with their worker (a heartbeat
    timeout), which are not the step's failures."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=max(node.initial, 0.001)),
        backoff_coefficient=2.0 if node.exponential else 1.0,
        maximum_interval=timedelta(seconds=max(node.max_interval, node.initial, 0.001)),
        maximum_attempts=0,
    )


def _start_to_close(node: NodeSpec) -> timedelta:
    if node.timeout is None:
        return NO_TIMEOUT
    return timedelta(seconds=node.timeout + TIMEOUT_MARGIN)


def _place(exc: ActivityError) -> LogPlace | None:
    """Where the log of the failed try is, as the worker put it in the error's details."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and len(cause.details) > 1:
        raw = cause.details[1]
        if isinstance(raw, dict):
            try:
                return LogPlace(**raw)
            except TypeError:  # not a place: a worker of another version
                return None
    return None


def _failure(exc: ActivityError) -> tuple[Outcome, str, int | None]:
    """How an activity that raised ended: cancelled, or failed with the last try's message
    (and its number, which the worker puts in the error's details)."""
    cause = exc.cause
    if isinstance(cause, TemporalCancelled):
        return "cancelled", "cancelled", None
    if isinstance(cause, ApplicationError):
        attempt = cause.details[0] if cause.details else None
        return "failed", cause.message, attempt if isinstance(attempt, int) else None
    return "failed", str(cause or exc), None
