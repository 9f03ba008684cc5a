"""The local executor: a workflow's DAG on asyncio, recorded in SQLite as it goes.

Every decision — what starts, what is skipped or cancelled, when a failure stops the run, how
the run ended — is the pure :class:`~nestr.workflow.schedule.Schedule`'s; this module is the
plumbing around it: a task per started instance, which ends as soon as the record of its end is
queued (a ``noop`` needs none: see :data:`INLINE_TYPES`); that end reaches the schedule once it
is committed, so nothing downstream starts before a need's end is durable. A cancel —
``cancel()``, the ``cancel`` event the caller passes, or a cancel request row another process
wrote — is handed to the schedule, whose interrupts cancel the tasks (killing their process
groups). A shutdown (``shutdown()``, or the ``shutdown`` event) bypasses the schedule: the
tasks are cancelled without recording their ends, and the run is released to a resume
(:meth:`~nestr.store.runs.RunStore.release_run`). A run that ends failed or cancelled then runs
the compensations :mod:`nestr.workflow.saga` plans, as a second phase with its own schedule,
which a cancel does not stop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from nestr.events.bus import EventBus
from nestr.events.catalog import (
    COMPENSATION_FINISHED,
    COMPENSATION_STARTED,
    RUN_FINISHED,
    RUN_INTERRUPTED,
    CompensationFinished,
    CompensationStarted,
    RunFinished,
    RunInterrupted,
)
from nestr.observability.logging import bind_context
from nestr.observability.tracing import span
from nestr.store.compensations import begin_compensation
from nestr.store.records import RunStatus, StepRecord
from nestr.store.runs import RunStore
from nestr.workflow.executor import RunResult, RunSpec, StopReason, status_counts
from nestr.workflow.options import ExecutorOptions
from nestr.workflow.plan import Instance, Plan
from nestr.workflow.process import GroupProcessRunner
from nestr.workflow.recording import InstanceRunner, instance_outputs
from nestr.workflow.registry import StepRegistry, default_registry
from nestr.workflow.saga import Saga, compensations, outcome
from nestr.workflow.schedule import (
    CANCEL_REASON,
    Action,
    Interrupt,
    Outcome,
    Schedule,
    Settle,
    Start,
)
from nestr.workflow.scope import build_scope

# Built-in step types whose single try the local executor runs inside its own scheduling turn,
# with no task: they finish at once, in this process, and change nothing outside the store.
# This is the local executor's business only (no step declares it): on 1,000 noop steps a
# task per instance costs about a fifth more CPU.
INLINE_TYPES = frozenset({"noop"})
SHUTDOWN_REASON = "its process shut down"


class LocalExecutor:
    """Runs a :class:`RunSpec` in this process (an :class:`~nestr.workflow.executor.Executor`)."""

    def __init__(
        self,
        store: RunStore,
        bus: EventBus,
        *,
        registry: StepRegistry | None = None,
        options: ExecutorOptions | None = None,
        cancel: asyncio.Event | None = None,
        shutdown: asyncio.Event | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.registry = registry or default_registry()
        self.options = options or ExecutorOptions()
        self._stops: dict[StopReason, asyncio.Event | None] = {
            "cancel": cancel,
            "shutdown": shutdown,
        }
        self.stop_reason: StopReason | None = None  # the first stop asked for wins
        self._wake: asyncio.Event | None = None

    def cancel(self) -> None:
        """Stop the run: running steps are killed, pending ones cancelled (safe from signals)."""
        self._stop("cancel")

    def shutdown(self) -> None:
        """Stop the run for a shutdown: running steps are killed, nothing is recorded ended,
        and the run is left to a resume (safe from signals)."""
        self._stop("shutdown")

    def _stop(self, reason: StopReason) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        if self._wake is not None:
            self._wake.set()

    async def execute(self, spec: RunSpec) -> RunResult:
        attributes = {"nestr.run_id": spec.run_id, "nestr.workflow": spec.plan.workflow.name}
        with span("nestr.run", **attributes) as current:
            result = await self._execute(spec)
            current.set("nestr.run.status", result.status)
            if result.status != "succeeded":
                current.fail(result.status)
            return result

    async def _execute(self, spec: RunSpec) -> RunResult:
        started = time.perf_counter()
        self._wake = asyncio.Event()
        watchers = [asyncio.create_task(self._watch(spec.run_id))]
        for reason, event in self._stops.items():
            if event is not None:
                watchers.append(asyncio.create_task(self._forward(event, reason)))
        try:
            with bind_context(run_id=spec.run_id):
                status, compensation = await self._phases(spec)
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        steps = tuple(self.store.steps(spec.run_id))
        seconds = time.perf_counter() - started
        name = spec.plan.workflow.name
        if status == "interrupted":
            self._release(spec, steps)
            steps = tuple(self.store.steps(spec.run_id))  # running ones are pending again
            return RunResult(spec.run_id, name, status, steps, seconds, compensation)
        result = RunResult(spec.run_id, name, status, steps, seconds, compensation)
        self._finish(spec, result)
        return result

    async def _phases(self, spec: RunSpec) -> tuple[RunStatus | Literal["interrupted"], str | None]:
        """Run the steps (unless a resume continues compensations), then, after a failure or
        a cancel, the compensations ``nestr.workflow.saga`` decides: the run's status and how
        its compensations ended (None when none ran)."""
        if spec.compensating is not None:
            states = {**spec.ended, **dict.fromkeys(spec.done, "succeeded")}
            undo = _Undo(spec.compensating, states, instance_outputs(spec.done))
            return await self._compensate(spec, undo, compensations(spec.plan, states))
        limit = self.options.concurrency
        schedule = Schedule.for_plan(spec.plan, done=spec.done, ended=spec.ended, limit=limit)
        run = _Run(self, spec, schedule)
        status = await run.drive()
        if status == "succeeded" or status == "interrupted":  # noqa: PLR1714 (narrows)
            return status, None
        saga = compensations(spec.plan, schedule.states)
        if not saga.keys:
            return status, None
        self._begin_compensation(spec, status, saga)
        return await self._compensate(spec, _Undo(status, schedule.states, run.outputs), saga)

    async def _compensate(
        self, spec: RunSpec, undo: _Undo, saga: Saga
    ) -> tuple[RunStatus | Literal["interrupted"], str | None]:
        """Run the compensations of ``saga``; their expressions read the run's steps."""
        limit = self.options.concurrency
        run = _Run(
            self,
            replace(spec, plan=saga.plan),
            saga.schedule(done=spec.done, ended=spec.ended, limit=limit),
            scope=(spec.plan, undo.states, undo.outputs),
        )
        if await run.drive() == "interrupted":
            return "interrupted", "running"
        return undo.status, outcome(run.schedule.states)

    def _begin_compensation(self, spec: RunSpec, status: RunStatus, saga: Saga) -> None:
        """Record the compensations about to run and publish ``compensation.started``."""
        event = COMPENSATION_STARTED.event(
            CompensationStarted(outcome=status, steps=saga.keys),
            subject=spec.plan.workflow.name,
            run_id=spec.run_id,
            severity="warning",
        )
        rows = [(i.key, i.step.id, i.repo.name if i.repo else None) for i in saga.plan.instances]
        self.bus.publish(begin_compensation(self.store.db, spec.run_id, status, rows, event))

    def _finish(self, spec: RunSpec, result: RunResult) -> None:
        """Record the run's end and publish ``run.finished`` (after ``compensation.finished``
        when compensations ran)."""
        status, name = result.status, spec.plan.workflow.name
        assert status != "interrupted"
        events = []
        if result.compensation is not None:
            undone = result.compensations
            data = CompensationFinished(status=result.compensation, counts=status_counts(undone))
            events.append(COMPENSATION_FINISHED.event(data, subject=name, run_id=spec.run_id))
        finished = RunFinished(
            status=status, counts=result.counts(), seconds=round(result.seconds, 6)
        )
        if result.compensation is not None:
            finished["compensation"] = result.compensation
        events.append(
            RUN_FINISHED.event(
                finished,
                subject=name,
                run_id=spec.run_id,
                severity="info" if status == "succeeded" else "error",
            )
        )
        now = self.options.clock()
        stored = self.store.finish_run_with(spec.run_id, status, now, events, result.compensation)
        for event in stored:
            self.bus.publish(event)

    def _release(self, spec: RunSpec, steps: tuple[StepRecord, ...]) -> None:
        """Leave the run to a resume and publish ``run.interrupted``."""
        left = sum(1 for s in steps if s.status != "succeeded")
        event = RUN_INTERRUPTED.event(
            RunInterrupted(workflow=spec.plan.workflow.name, reason=SHUTDOWN_REASON, left=left),
            subject=spec.plan.workflow.name,
            run_id=spec.run_id,
            severity="warning",
        )
        self.bus.publish(self.store.release_run(spec.run_id, event))

    async def _forward(self, event: asyncio.Event, reason: StopReason) -> None:
        await event.wait()
        self._stop(reason)

    async def _watch(self, run_id: str) -> None:
        """Poll for a cancel request from another process; write the heartbeat."""
        last_beat = self.options.clock()
        while True:
            await asyncio.sleep(self.options.poll_interval)
            now = self.options.clock()
            if now - last_beat >= self.options.heartbeat_every:
                requested = self.store.beat(run_id, now)
                last_beat = now
            else:
                requested = self.store.cancel_requested(run_id)
            if requested:
                self.cancel()


@dataclass(frozen=True)
class _Undo:
    """What the compensations of a run start from: how its steps ended, their states and the
    outputs of those that succeeded."""

    status: RunStatus
    states: Mapping[str, str]
    outputs: Mapping[str, Mapping[str, str]]


# What the expressions of a phase's instances read: the run's plan, its instances' states and
# the outputs of those that succeeded (compensations read the run's steps, not their own).
ScopeSource = tuple[Plan, Mapping[str, str], Mapping[str, Mapping[str, str]]]


class _Run:
    """The asyncio side of one phase of a run (its steps, or its compensations): started
    instances, driven by its schedule. A cancel stops the steps; compensations are never
    stopped by one (an undo left half-done is worse than none), only by a shutdown."""

    def __init__(
        self,
        executor: LocalExecutor,
        spec: RunSpec,
        schedule: Schedule,
        *,
        scope: ScopeSource | None = None,
    ) -> None:
        self.executor = executor
        self.spec = spec
        self.cancellable = scope is None
        self.runner = InstanceRunner(
            spec,
            executor.store,
            executor.bus,
            executor.registry,
            executor.options,
            GroupProcessRunner(executor.options.kill_grace),
        )
        self.schedule = schedule
        self.outputs = self.runner.outputs
        self.outputs.update(instance_outputs(spec.done))
        self.scope_source: ScopeSource = scope or (spec.plan, schedule.states, self.outputs)
        self.tasks: dict[str, asyncio.Task[None]] = {}  # by instance key
        self.interrupted: dict[str, str] = {}  # why a task was cancelled, by instance key
        # Ends committed (or refused) since the schedule was last told: (key, status, error).
        self.reported: list[tuple[str, Outcome, BaseException | None]] = []

    async def drive(self) -> RunStatus | Literal["interrupted"]:
        wake = self.executor._wake
        assert wake is not None
        while True:
            if self.executor.stop_reason == "shutdown":
                return await self._abandon()
            if self.executor.stop_reason == "cancel" and self.cancellable:
                self.schedule.cancel()  # once: later calls change nothing
            self._act(self.schedule.advance())
            if self.schedule.over:
                return self.schedule.final_status()
            wake.clear()
            if not self.reported and not any(task.done() for task in self.tasks.values()):
                await wake.wait()
            self._collect()

    async def _abandon(self) -> Literal["interrupted"]:
        """Stop for a shutdown: cancel every task (their process groups are killed) without
        recording their ends, and commit the ends that were queued before: a step recorded
        ``succeeded`` stays so, every other one is run again by a resume."""
        self.runner.abandoning = True
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.runner.commits.flush()
        return "interrupted"

    def _act(self, actions: list[Action]) -> None:
        settles: list[Settle] = []
        for action in actions:
            if isinstance(action, Start):
                self._launch(self.spec.plan.instance(action.key))
            elif isinstance(action, Settle):
                settles.append(action)
            elif isinstance(action, Interrupt) and action.key in self.tasks:
                self.interrupted[action.key] = action.reason
                self.tasks[action.key].cancel()
        if settles:  # one transaction for all: a stop may cancel a thousand instances
            self.runner.settle_all(
                [(self.spec.plan.instance(s.key), s.status, s.reason) for s in settles]
            )

    def _launch(self, instance: Instance) -> None:
        if self._inline(instance) and self._run_inline(instance):
            return
        task = asyncio.create_task(self._guarded(instance), name=instance.key)
        wake = self.executor._wake
        assert wake is not None
        task.add_done_callback(lambda _: wake.set())
        self.tasks[instance.key] = task

    @staticmethod
    def _inline(instance: Instance) -> bool:
        """Whether ``instance`` runs inside the scheduler's turn: a type of
        :data:`INLINE_TYPES` with a single try."""
        return instance.step.uses in INLINE_TYPES and instance.step.retry.attempts == 1

    def _run_inline(self, instance: Instance) -> bool:
        """Run ``instance`` now, without a task (see ``InstanceRunner.run_inline``); False
        when it must run as a task after all."""
        repo = instance.repo.name if instance.repo is not None else None
        try:
            with bind_context(step=instance.key, repo=repo):
                scope = self._scope(instance)
                return self.runner.run_inline(instance, scope, self._report(instance.key))
        except Exception as exc:  # a bug in the executor itself, as a task's error would be
            self._failed(instance, exc)
            return True

    def _report(self, key: str) -> Callable[[Outcome, BaseException | None], None]:
        wake = self.executor._wake
        assert wake is not None

        def report(status: Outcome, error: BaseException | None) -> None:
            self.reported.append((key, status, error))
            wake.set()

        return report

    def _scope(self, instance: Instance) -> dict[str, Any]:
        if not self.runner.reads_scope(instance):
            return {}
        plan, states, outputs = self.scope_source
        return build_scope(
            instance,
            plan,
            run_id=self.spec.run_id,
            inputs=self.spec.inputs,
            states=states,
            outputs=outputs,
            root=self.spec.root,
        )

    async def _guarded(self, instance: Instance) -> None:
        repo = instance.repo.name if instance.repo is not None else None
        with bind_context(step=instance.key, repo=repo):
            await self.runner.run(instance, self._scope(instance), self._report(instance.key))

    def _collect(self) -> None:
        """Tell the schedule how instances ended: as their commits reported, or as their
        tasks ended without a report (cancelled, or broken by a bug of the executor)."""
        reported, self.reported = self.reported, []
        for key, status, error in reported:
            if error is not None:  # the end's record did not commit: the step is failed
                self._failed(self.spec.plan.instance(key), error)
            else:
                self.schedule.finished(key, status)
        for key, task in [(k, t) for k, t in self.tasks.items() if t.done()]:
            del self.tasks[key]
            instance = self.spec.plan.instance(key)
            if task.cancelled():
                if key not in self.runner.ended:
                    # Cancelled between retries, or before its first try: nothing recorded
                    # its end.
                    reason = self.interrupted.get(key, CANCEL_REASON)
                    self.runner.settle(instance, "cancelled", reason)
                self.schedule.finished(key, "cancelled")
            elif (error := task.exception()) is not None:
                self._failed(instance, error)

    def _failed(self, instance: Instance, error: BaseException) -> None:
        """A bug of the executor itself, or a record that did not commit: the step fails,
        the run goes on."""
        self.runner.settle(instance, "failed", f"internal error: {error!r}")
        self.schedule.finished(instance.key, "failed")
