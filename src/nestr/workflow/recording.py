"""The local executor's half of a step instance: its tries, retried and recorded as they go.

Each try is recorded when it starts and when it ends; the end of the last try ends the step in
the same transaction, with its outputs and its event. A try's start joins the next group commit
(``nestr.workflow.commits``) without being waited for, so a try that ends within the same turn
of the event loop (``noop``) has its start and its end written in one transaction; a crash
before that commit leaves the step pending, and a resume runs it again. A try that starts a
process waits for its start to be committed first, so no process runs unrecorded. Running the
try itself is ``nestr.workflow.attempt``'s, shared with any other executor.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nestr.events.bus import EventBus
from nestr.events.catalog import (
    STEP_FINISHED,
    STEP_LOG,
    STEP_RETRYING,
    STEP_STARTED,
    StepEnded,
    StepLog,
    StepStarted,
)
from nestr.observability.tracing import Attribute, Span, span
from nestr.proc.groups import Group, boot_id
from nestr.store.attempts import AttemptEnd, AttemptFinish, AttemptStart
from nestr.store.groups import GroupStarted
from nestr.store.records import StepStatus
from nestr.store.runs import RunStore
from nestr.workflow.attempt import (
    Prepared,
    Unrunnable,
    cancelled_end,
    ended_by,
    output_path,
    prepare,
    run_try,
    step_context,
    succeeded,
)
from nestr.workflow.capture import CapturedLog
from nestr.workflow.commits import Committed, GroupCommit
from nestr.workflow.emitter import StepEmitter
from nestr.workflow.executor import RunSpec
from nestr.workflow.options import ExecutorOptions
from nestr.workflow.plan import Instance
from nestr.workflow.process import GroupProcessRunner
from nestr.workflow.protocols import LogSink, StepContext, StepFactory
from nestr.workflow.registry import StepRegistry
from nestr.workflow.render import reads_scope
from nestr.workflow.retry import retry_delay
from nestr.workflow.schedule import Outcome
from nestr.workflow.stepevents import StepEvents

# Told how an instance ended, once its end is committed: its status, or what kept it out.
Report = Callable[[Outcome, BaseException | None], None]


@dataclass
class InstanceRunner:
    """Runs and records the instances of one run; shared by all of the run's instances."""

    spec: RunSpec
    store: RunStore
    bus: EventBus
    registry: StepRegistry
    options: ExecutorOptions
    processes: GroupProcessRunner
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # of succeeded instances
    ended: set[str] = field(default_factory=set)  # instances whose final state is recorded
    abandoning: bool = False  # a shutdown: a cancelled try records nothing (it runs again)
    base_env: dict[str, str] = field(default_factory=lambda: dict(os.environ))  # read once
    _output_dir: Path | None = field(default=None, init=False)
    commits: GroupCommit = field(init=False)
    events: StepEvents = field(init=False)

    def __post_init__(self) -> None:
        self.commits = GroupCommit(self.store.db, self.bus.publish)
        self.events = StepEvents(self.spec.run_id)

    def settle(self, instance: Instance, status: StepStatus, reason: str | None) -> None:
        """End an instance that never ran (skipped, cancelled, or unable to start)."""
        self.settle_all([(instance, status, reason)])

    def settle_all(self, ends: Sequence[tuple[Instance, StepStatus, str | None]]) -> None:
        """End several instances that never ran, in one transaction."""
        events = []
        for instance, status, reason in ends:
            self.ended.add(instance.key)
            data = StepEnded(status=status, reason=reason, attempt=0)
            events.append(self.events.event(instance, STEP_FINISHED, data))
        changes = [(instance.key, status, reason) for instance, status, reason in ends]
        for event in self.store.settle_steps(
            self.spec.run_id, changes, self.options.clock(), events
        ):
            self.bus.publish(event)

    def reads_scope(self, instance: Instance) -> bool:
        """Whether ``instance`` needs its expression scope (most steps have no expression)."""
        return reads_scope(instance.step)

    async def run(self, instance: Instance, scope: dict[str, Any], report: Report) -> None:
        """Run ``instance`` to its end, and call ``report(status, error)`` once that end is
        committed (``error``: what kept it out of the store). Returns as soon as the end is
        queued for the commit; a cancel raises ``CancelledError`` once recorded cancelled."""
        prepared = prepare(instance, scope, self.spec, self.registry, self.base_env)
        if isinstance(prepared, Unrunnable):
            self.settle(instance, prepared.status, prepared.reason)
            report(prepared.status, None)
            return
        retry = instance.step.retry
        first = self.spec.prior_attempts.get(instance.key, 0) + 1
        last = first + retry.attempts - 1
        for attempt in range(first, last + 1):
            end = await self._attempt(instance, prepared, attempt, attempt == last, report)
            if end.step_status is not None:
                return
            await self.options.sleep(retry_delay(retry, attempt - first + 1, self.options.rng))

    async def _attempt(
        self, instance: Instance, prepared: Prepared, attempt: int, final: bool, report: Report
    ) -> AttemptEnd:
        with _attempt_span(instance, attempt) as current:
            end = await self._traced_attempt(instance, prepared, attempt, final, report)
            _ended(current, end)
            return end

    async def _traced_attempt(
        self, instance: Instance, prepared: Prepared, attempt: int, final: bool, report: Report
    ) -> AttemptEnd:
        output = output_path(self._output_dir_made(), instance.key, self.spec.claim, attempt)
        log = CapturedLog(cap=self.options.log_cap, publish=self._log_publisher(instance, attempt))
        started = self.options.clock()
        event = self.events.event(instance, STEP_STARTED, StepStarted(attempt=attempt))
        recorded = self._queue_start(
            AttemptStart(self.spec.run_id, instance.key, attempt, started, event)
        )
        processes = _RecordedProcesses(self, instance.key, attempt, recorded)
        ctx = step_context(
            self.spec,
            instance,
            prepared,
            attempt,
            output,
            log=log,
            processes=processes,
            emit=self._emitter(instance),
        )
        try:
            end = await run_try(instance, ctx, prepared.factory, final=final)
        except asyncio.CancelledError:
            output.unlink(missing_ok=True)
            if not self.abandoning:
                self.commits.now(self._record(instance, attempt, started, log, cancelled_end()))
            raise
        if end.status != "succeeded":  # a success took (read and removed) the file already
            output.unlink(missing_ok=True)
        record = self._record(instance, attempt, started, log, end)
        if end.step_status is None:  # a retry follows, once this try's end is in the store
            await self.commits.write(record, finishes=True)
            _raise_unrecorded(recorded)
            return end
        self.commits.queue(record, self._reporter(instance.key, end, recorded, report))
        return end

    def _reporter(
        self, key: str, end: AttemptEnd, recorded: asyncio.Future[None], report: Report
    ) -> Committed:
        """What tells ``report`` how an instance ended, once the record of its end commits."""
        assert end.step_status is not None

        def committed(error: BaseException | None) -> None:
            if error is None and not recorded.cancelled():
                error = recorded.exception()  # its start's commit came first
            if error is None and end.step_status == "succeeded":
                self.outputs[key] = dict(end.outputs or {})
            report(end.step_status or "failed", error)

        return committed

    def run_inline(self, instance: Instance, scope: dict[str, Any], report: Report) -> bool:
        """Run the only try of an instance of an inline type now, inside the caller's turn:
        no task, and its start and end join this turn's group commit (``report`` is called
        once they are in). False, with nothing recorded, when the try awaited something: it
        is abandoned at that await (its log lines dropped) and the caller runs the instance
        as a task instead, which is harmless for a type that changes nothing outside the
        store. A try run this way has no timeout: it never waits, and no span of its own: it
        takes no time and starts nothing, its events carry the run's ``traceparent``, and a
        span each measured three quarters more CPU on 1,000 ``noop`` steps (OpenTelemetry's
        span costs about 18 µs, its OTLP encoding about 26 µs, beside the ~130 µs a step
        costs)."""
        prepared = prepare(instance, scope, self.spec, self.registry, self.base_env)
        if isinstance(prepared, Unrunnable):
            self.settle(instance, prepared.status, prepared.reason)
            report(prepared.status, None)
            return True
        attempt = self.spec.prior_attempts.get(instance.key, 0) + 1
        output = output_path(self._output_dir_made(), instance.key, self.spec.claim, attempt)
        held: list[tuple[str, str]] = []  # published only if the try counts
        log = CapturedLog(cap=self.options.log_cap, publish=lambda *line: held.append(line))
        started = self.options.clock()
        ctx = step_context(
            self.spec,
            instance,
            prepared,
            attempt,
            output,
            log=log,
            processes=self.processes,
            emit=self._emitter(instance),
        )
        end = _try_inline(instance, ctx, prepared.factory)
        if end is None:
            return False
        publish = self._log_publisher(instance, attempt)
        for stream, text in held:
            publish(stream, text)
        if end.status != "succeeded":
            output.unlink(missing_ok=True)
        event = self.events.event(instance, STEP_STARTED, StepStarted(attempt=attempt))
        recorded = self._queue_start(
            AttemptStart(self.spec.run_id, instance.key, attempt, started, event)
        )
        record = self._record(instance, attempt, started, log, end)
        self.commits.queue(record, self._reporter(instance.key, end, recorded, report))
        return True

    def _queue_start(self, start: AttemptStart) -> asyncio.Future[None]:
        """Queue a try's start with the next group commit, not waited for: the try begins at
        once, and one that ends in this turn is committed with its start. The future is done
        once the start is in the store (or holds the error that kept it out)."""
        recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def committed(error: BaseException | None) -> None:
            if recorded.done():  # cancelled by a try that stopped waiting for it
                return
            if error is None:
                recorded.set_result(None)
            else:
                recorded.set_exception(error)

        self.commits.queue(start, committed)
        return recorded

    def _record(
        self, instance: Instance, attempt: int, started: float, log: CapturedLog, end: AttemptEnd
    ) -> AttemptFinish:
        """The record of a try's end, with its logs and its event."""
        now = self.options.clock()
        logs = log.records()
        if logs:
            end = AttemptEnd(
                end.status, end.step_status, end.exit_code, end.error, end.outputs, logs
            )
        data = StepEnded(
            attempt=attempt,
            status=end.step_status or end.status,
            seconds=round(now - started, 6),
            exit_code=end.exit_code,
            error=end.error,
        )
        if end.step_status == "succeeded":
            data["outputs"] = end.outputs
        if end.step_status == "failed":
            data["log_tail"] = log.tail()
        kind = STEP_FINISHED if end.step_status else STEP_RETRYING
        if end.step_status:
            self.ended.add(instance.key)
        event = self.events.event(instance, kind, data)
        return AttemptFinish(self.spec.run_id, instance.key, attempt, end, now, event)

    def _emitter(self, instance: Instance) -> StepEmitter:
        repo = instance.repo.name if instance.repo else None
        return StepEmitter(self.bus, self.spec.run_id, instance.key, repo)

    def _log_publisher(self, instance: Instance, attempt: int) -> Callable[[str, str], None]:
        def publish(stream: str, text: str) -> None:
            data = StepLog(stream=stream, text=text, attempt=attempt)
            self.bus.publish(self.events.event(instance, STEP_LOG, data, severity="debug"))

        return publish

    def _output_dir_made(self) -> Path:
        if self._output_dir is None:
            self._output_dir = self.spec.state_dir / "runs" / self.spec.run_id
            self._output_dir.mkdir(parents=True, exist_ok=True)
        return self._output_dir

    def group_started(self, key: str, attempt: int, group: Group) -> None:
        """Record a process group a try started, with the next commit (not waited for)."""
        record = GroupStarted(self.spec.run_id, key, attempt, group.pgid, group.start, boot_id())
        self.commits.queue(record, _ignored)


@dataclass(frozen=True)
class _RecordedProcesses:
    """The process runner of one try: no process starts before the try is recorded running,
    and each group it starts is recorded in the store, so a resume or cancel after nestr died
    can end what is left of it."""

    runner: InstanceRunner
    key: str
    attempt: int
    recorded: asyncio.Future[None]  # done once the try's start is committed

    async def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: LogSink,
        shell: bool = False,
    ) -> int:
        await self.recorded
        return await self.runner.processes.run(
            argv, cwd=cwd, env=env, log=log, shell=shell, started=self._started
        )

    def _started(self, group: Group) -> None:
        self.runner.group_started(self.key, self.attempt, group)


def _try_inline(instance: Instance, ctx: StepContext, factory: StepFactory) -> AttemptEnd | None:
    """A try driven by hand to its end; None (the try abandoned) when it awaits something."""
    steps = factory().run(ctx)
    try:
        steps.send(None)
    except StopIteration as stop:
        # it started no process (it never awaited), so nothing wrote its $NESTR_OUTPUT
        return succeeded(ctx, stop.value, output_file=False)
    except asyncio.CancelledError:
        return None  # the task path reports what a step that cancels itself means
    except Exception as exc:  # a broken step fails its step, not the whole run
        return ended_by(exc, instance, final=True)
    steps.close()
    return None


def _attempt_span(instance: Instance, attempt: int) -> AbstractContextManager[Span]:
    """The span of one try (its events carry its ``traceparent``, its processes are its
    children)."""
    attributes: dict[str, Attribute] = {
        "nestr.step": instance.key,
        "nestr.step.uses": instance.step.uses,
        "nestr.attempt": attempt,
    }
    return span("nestr.attempt", **attributes)


def _ended(current: Span, end: AttemptEnd) -> None:
    """Tell the span of a try how it ended."""
    current.set("nestr.attempt.status", end.status)
    if end.status != "succeeded":
        current.fail(end.error or end.status)


def _raise_unrecorded(recorded: asyncio.Future[None]) -> None:
    """Raise what kept a try's start out of the store, if anything did."""
    error = None if recorded.cancelled() else recorded.exception()
    if error is not None:
        raise error


def _ignored(error: BaseException | None) -> None:
    """A group record that did not commit: the helper that ends groups still has it."""


def instance_outputs(done: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The outputs of instances a previous attempt of the run finished."""
    return {key: dict(record.outputs) for key, record in done.items()}
