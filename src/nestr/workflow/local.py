"""The local executor: a workflow's DAG on asyncio, recorded in SQLite as it goes.

Scheduling is by readiness, not by layers: the moment an instance's needs are over it is
started (or skipped, when a need did not pass), so a fast branch never waits for a slow one.
A semaphore bounds how many instances run at once. An *instant* instance (``noop``) runs inside
the scheduler's own turn, with no task: its try is over when it returns, its record joins the
turn's group commit, and its dependents are released once that commit is in (no task to create,
schedule and wake per step). A cancel — ``cancel()``, the ``cancel`` event the caller
passes, or a cancel request row another process wrote — kills running instances' process
groups and marks what never started as cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from nestr.events.bus import EventBus
from nestr.events.catalog import RUN_FINISHED, RunFinished
from nestr.observability.logging import bind_context
from nestr.store.runs import RunStore
from nestr.workflow.attempt import InstanceRunner, instance_outputs
from nestr.workflow.executor import RunResult, RunSpec
from nestr.workflow.options import ExecutorOptions
from nestr.workflow.plan import Instance, blocked_reason
from nestr.workflow.process import GroupProcessRunner
from nestr.workflow.registry import StepRegistry, default_registry
from nestr.workflow.scope import build_scope


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
    ) -> None:
        self.store = store
        self.bus = bus
        self.registry = registry or default_registry()
        self.options = options or ExecutorOptions()
        self._external_cancel = cancel
        self._cancelled = False
        self._wake: asyncio.Event | None = None

    def cancel(self) -> None:
        """Stop the run: running steps are killed, pending ones cancelled (safe from signals)."""
        self._cancelled = True
        if self._wake is not None:
            self._wake.set()

    async def execute(self, spec: RunSpec) -> RunResult:
        started = time.perf_counter()
        self._wake = asyncio.Event()
        run = _Run(self, spec)
        watchers = [asyncio.create_task(self._watch(spec.run_id))]
        if self._external_cancel is not None:
            watchers.append(asyncio.create_task(self._forward(self._external_cancel)))
        try:
            with bind_context(run_id=spec.run_id):
                status = await run.drive()
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        steps = tuple(self.store.steps(spec.run_id))
        counts: dict[str, int] = {}
        for step in steps:
            counts[step.status] = counts.get(step.status, 0) + 1
        seconds = time.perf_counter() - started
        event = RUN_FINISHED.event(
            RunFinished(status=status, counts=counts, seconds=round(seconds, 6)),
            subject=spec.plan.workflow.name,
            run_id=spec.run_id,
            severity="info" if status == "succeeded" else "error",
        )
        self.bus.publish(self.store.finish_run(spec.run_id, status, self.options.clock(), event))
        return RunResult(spec.run_id, spec.plan.workflow.name, status, steps, seconds)

    async def _forward(self, event: asyncio.Event) -> None:
        await event.wait()
        self.cancel()

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


class _Run:
    """The scheduling state of one run."""

    def __init__(self, executor: LocalExecutor, spec: RunSpec) -> None:
        self.executor = executor
        self.spec = spec
        self.runner = InstanceRunner(
            spec,
            executor.store,
            executor.bus,
            executor.registry,
            executor.options,
            GroupProcessRunner(executor.options.kill_grace),
        )
        concurrency = spec.plan.workflow.concurrency or executor.options.concurrency
        self.semaphore = asyncio.Semaphore(max(1, min(concurrency, executor.options.concurrency)))
        self.states: dict[str, str] = {i.key: "pending" for i in spec.plan.instances}
        self.outputs = self.runner.outputs
        self.outputs.update(instance_outputs(spec.done))
        for key in spec.done:
            self.states[key] = "succeeded"
        self.running: dict[asyncio.Task[str], Instance] = {}
        self.launched: set[str] = set(spec.done)
        self.stopping: str | None = None  # "cancelled" or "fail_fast"
        # Needs not over yet, per instance: an instance is looked at once, when it drops to 0,
        # so scheduling costs O(edges) however wide the layers are.
        self.waiting: dict[str, int] = {
            i.key: sum(1 for need in set(i.needs) if need not in spec.done)
            for i in spec.plan.instances
        }
        self._candidates: list[Instance] = list(spec.plan.instances)  # to look at next
        # Instances run without a task (instant ones) whose record is not committed yet, and
        # those that ended since the last look: (instance, status, error of the executor).
        self.in_flight = 0
        self._ended: list[tuple[Instance, str, BaseException | None]] = []

    async def drive(self) -> str:
        wake = self.executor._wake
        assert wake is not None
        while True:
            if self.executor._cancelled and self.stopping is None:
                self._stop("cancelled")
            if self.stopping is None:
                self._advance(self._candidates)
                self._candidates = []
            if not self.running and not self.in_flight and not self._ended:
                break
            wake.clear()
            if not self._ended and not any(t.done() for t in self.running):
                await wake.wait()
            self._collect()
        return self._status()

    def _advance(self, candidates: list[Instance]) -> None:
        """Skip what cannot run and start what is ready among ``candidates`` (and, after a
        skip, among the skipped instance's dependents)."""
        todo = deque(candidates)
        while todo:
            instance = todo.popleft()
            if instance.key in self.launched or self.waiting[instance.key]:
                continue
            ready, reason = blocked_reason(instance, self.states, self.spec.plan)
            if not ready:
                continue
            self.launched.add(instance.key)
            if reason is not None:
                self.runner.settle(instance, "skipped", f"needs {reason}")
                self.states[instance.key] = "skipped"
                todo.extend(self._release(instance))
            else:
                self._launch(instance)

    def _release(self, instance: Instance) -> list[Instance]:
        """``instance`` is over: the dependents whose last pending need it was."""
        freed = []
        for dependent in self.spec.plan.dependents[instance.key]:
            self.waiting[dependent.key] -= 1
            if not self.waiting[dependent.key]:
                freed.append(dependent)
        return freed

    def _launch(self, instance: Instance) -> None:
        self.states[instance.key] = "running"
        # An instant instance takes no slot: once run_now returns, nothing of it is running.
        ready_now = self.runner.may_run_now(instance) and not self.semaphore.locked()
        if ready_now and self._run_now(instance):
            return
        task = asyncio.create_task(self._guarded(instance), name=instance.key)
        wake = self.executor._wake
        assert wake is not None
        task.add_done_callback(lambda _: wake.set())
        self.running[task] = instance

    def _run_now(self, instance: Instance) -> bool:
        """Run an instant instance in this turn (see InstanceRunner.run_now)."""
        wake = self.executor._wake
        assert wake is not None
        told: list[str] = []

        def ended(status: str, error: BaseException | None) -> None:
            told.append(status)
            self.in_flight -= 1
            self._ended.append((instance, status, error))
            wake.set()

        self.in_flight += 1
        repo = instance.repo.name if instance.repo is not None else None
        try:
            with bind_context(step=instance.key, repo=repo):
                started = self.runner.run_now(instance, self._scope(instance), ended)
        except Exception as exc:  # a bug in the executor itself, as a task's error would be
            if not told:
                ended("failed", exc)
            return True
        if not started:
            self.in_flight -= 1
        return started

    def _scope(self, instance: Instance) -> dict[str, Any]:
        if not self.runner.reads_scope(instance):
            return {}
        return build_scope(
            instance,
            self.spec.plan,
            run_id=self.spec.run_id,
            inputs=self.spec.inputs,
            states=self.states,
            outputs=self.outputs,
            root=self.spec.root,
        )

    async def _guarded(self, instance: Instance) -> str:
        repo = instance.repo.name if instance.repo is not None else None
        with bind_context(step=instance.key, repo=repo):
            return await self._run_instance(instance)

    async def _run_instance(self, instance: Instance) -> str:
        try:
            async with self.semaphore:
                return await self.runner.run(instance, self._scope(instance))
        except asyncio.CancelledError:
            # Cancelled while waiting for a slot or between retries: nothing recorded its end.
            if instance.key not in self.runner.ended:
                self.runner.settle(instance, "cancelled", self._reason())
            raise

    def _reason(self) -> str:
        if self.stopping == "fail_fast":
            return "fail_fast: another step failed"
        return "run cancelled"

    def _collect(self) -> None:
        ended, self._ended = self._ended, []
        for task in [t for t in self.running if t.done()]:
            ended.append((self.running.pop(task), *_outcome(task)))
        for instance, status, error in ended:
            self._candidates.extend(self._release(instance))
            if error is not None:  # a bug in the executor itself: the step is failed
                self.runner.settle(instance, "failed", f"internal error: {error!r}")
                status = "failed"
            self.states[instance.key] = status
            if (
                status == "failed"
                and self.spec.plan.workflow.fail_fast
                and not instance.step.continue_on_error
                and self.stopping is None
            ):
                self._stop("fail_fast")

    def _stop(self, why: str) -> None:
        self.stopping = why
        reason = self._reason()
        for instance in self.spec.plan.instances:
            if instance.key not in self.launched:
                self.launched.add(instance.key)
                self.runner.settle(instance, "cancelled", reason)
                self.states[instance.key] = "cancelled"
        for task in self.running:
            task.cancel()

    def _status(self) -> str:
        if self.stopping == "cancelled":
            return "cancelled"
        for instance in self.spec.plan.instances:
            status = self.states[instance.key]
            if status in {"failed", "cancelled"} and not instance.step.continue_on_error:
                return "failed"
        return "succeeded"


def _outcome(task: asyncio.Task[str]) -> tuple[str, BaseException | None]:
    """How a task's instance ended: its status, or the executor's own error (the run goes on)."""
    if task.cancelled():
        return "cancelled", None
    error = task.exception()
    if error is not None:
        return "failed", error
    return task.result(), None
