"""One step instance from its condition to its last try: render, run, retry, record.

Each try is recorded when it starts and when it ends; the end of the last try ends the step in
the same transaction, with its outputs and its event. A try of an *instant* step type (one that
finishes inside this process without touching anything outside it, such as ``noop``) is
recorded once, start and end in one transaction: nothing can be seen running in between, and a
crash before that commit leaves the step pending, so a resume runs it again.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nestr.errors import NestrError, UsageError
from nestr.events.bus import EventBus
from nestr.events.catalog import (
    STEP_FINISHED,
    STEP_LOG,
    STEP_RETRYING,
    STEP_STARTED,
    D,
    EventType,
    StepEnded,
    StepLog,
    StepStarted,
)
from nestr.events.envelope import Event
from nestr.proc.groups import Group, boot_id
from nestr.store.attempts import AttemptEnd, AttemptFinish, AttemptStart, WholeAttempt
from nestr.store.groups import GroupStarted
from nestr.store.runs import RunStore
from nestr.workflow import expressions
from nestr.workflow.capture import CapturedLog
from nestr.workflow.commits import GroupCommit, Record
from nestr.workflow.emitter import StepEmitter
from nestr.workflow.executor import RunSpec
from nestr.workflow.options import ExecutorOptions
from nestr.workflow.outputs import take_outputs
from nestr.workflow.plan import Instance
from nestr.workflow.process import GroupProcessRunner
from nestr.workflow.protocols import (
    LogSink,
    ProcessRunner,
    StepContext,
    StepFactory,
    StepFailed,
    is_instant,
)
from nestr.workflow.registry import StepRegistry
from nestr.workflow.render import Rendered, reads_scope, render_instance
from nestr.workflow.retry import retry_delay
from nestr.workflow.stepevents import StepEvents

# Told how an instance ended: its status, or the error that kept its record out of the store.
Ended = Callable[[str, BaseException | None], None]
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")  # characters of a key kept out of a file name


@dataclass
class InstanceRunner:
    """Runs instances of one run; shared by all of the run's instances."""

    spec: RunSpec
    store: RunStore
    bus: EventBus
    registry: StepRegistry
    options: ExecutorOptions
    processes: GroupProcessRunner
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # of succeeded instances
    ended: set[str] = field(default_factory=set)  # instances whose final state is recorded
    base_env: dict[str, str] = field(default_factory=lambda: dict(os.environ))  # read once
    _output_dir: Path | None = field(default=None, init=False)
    _now: dict[str, bool] = field(default_factory=dict, init=False)  # may_run_now per step
    _reads: dict[str, bool] = field(default_factory=dict, init=False)  # reads_scope per step
    _safe_names: dict[str, str] = field(default_factory=dict, init=False)  # output file names
    commits: GroupCommit = field(init=False)
    events: StepEvents = field(init=False)

    def __post_init__(self) -> None:
        self.commits = GroupCommit(self.store.db, self.bus.publish)
        self.events = StepEvents(self.spec.run_id)

    def event(self, instance: Instance, type: EventType[D], data: D) -> Event:
        return self.events.event(instance, type, data)

    def settle(self, instance: Instance, status: str, reason: str | None) -> None:
        """End an instance that never ran (skipped, cancelled, or unable to start)."""
        self.ended.add(instance.key)
        data = StepEnded(status=status, reason=reason, attempt=0)
        events = self.store.settle_steps(
            self.spec.run_id,
            [(instance.key, status, reason)],
            self.options.clock(),
            [self.event(instance, STEP_FINISHED, data)],
        )
        for event in events:
            self.bus.publish(event)

    async def run(self, instance: Instance, scope: dict[str, Any]) -> str:
        """Run ``instance`` to its final status (``CancelledError`` once recorded cancelled)."""
        prepared = self._prepare(instance, scope)
        if isinstance(prepared, str):
            return prepared
        rendered, factory = prepared
        step = instance.step
        first = self.spec.prior_attempts.get(instance.key, 0) + 1
        last = first + step.retry.attempts - 1
        for attempt in range(first, last + 1):
            end = await self._attempt(instance, rendered, factory, attempt, final=attempt == last)
            if end.status == "succeeded":
                self.outputs[instance.key] = dict(end.outputs or {})
            if end.status == "succeeded" or attempt == last:
                return end.step_status or end.status
            await self.options.sleep(retry_delay(step.retry, attempt - first + 1, self.options.rng))
        raise AssertionError("unreachable")  # pragma: no cover

    def _prepare(
        self, instance: Instance, scope: dict[str, Any]
    ) -> tuple[Rendered, StepFactory] | str:
        """What the instance runs with, or the status it ended with when it cannot run."""
        step = instance.step
        try:
            if step.condition is not None and not expressions.condition_holds(
                step.condition, {**scope, "env": self.base_env}
            ):
                self.settle(instance, "skipped", "condition is false")
                return "skipped"
            if instance.repo is not None:
                _refuse_symlinked(self.spec.root, instance.repo.path)
            rendered = render_instance(
                step,
                self.spec.plan.workflow,
                scope,
                base_dir=self._base_dir(instance),
                base_env=self.base_env,
            )
            factory = self.registry.get(step.uses)
        except (expressions.ExpressionError, NestrError) as exc:
            self.settle(instance, "failed", str(exc))
            return "failed"
        return rendered, factory

    def reads_scope(self, instance: Instance) -> bool:
        """Whether ``instance`` needs its expression scope (most steps have no expression)."""
        step = instance.step
        reads = self._reads.get(step.id)
        if reads is None:
            reads = self._reads[step.id] = reads_scope(step)
        return reads

    def may_run_now(self, instance: Instance) -> bool:
        """Whether :meth:`run_now` may run ``instance``: its type is instant and it has one
        try, so it never waits (between tries, or for a process)."""
        step = instance.step
        allowed = self._now.get(step.id)
        if allowed is None:
            try:
                allowed = is_instant(self.registry.get(step.uses)) and step.retry.attempts == 1
            except NestrError:  # an unknown type: the task path records the failure
                allowed = False
            self._now[step.id] = allowed
        return allowed

    def run_now(self, instance: Instance, scope: dict[str, Any], ended: Ended) -> bool:
        """Run an instant instance's only try at once, with no task of its own.

        The try's record joins this loop turn's group commit; ``ended(status, error)`` is
        called once it is committed (at once when the instance ends without a try). Returns
        False, having recorded nothing, when the try did not finish without awaiting: the
        caller runs the instance as a task instead (an instant try may run again, see
        :func:`~nestr.workflow.protocols.is_instant`).
        """
        prepared = self._prepare(instance, scope)
        if isinstance(prepared, str):
            ended(prepared, None)
            return True
        rendered, factory = prepared
        attempt = self.spec.prior_attempts.get(instance.key, 0) + 1
        output_path = self._output_path(instance.key, attempt)
        held: list[tuple[str, str]] = []  # published only if the try counts
        log = CapturedLog(cap=self.options.log_cap, publish=lambda *out: held.append(out))
        started = self.options.clock()
        start = (started, self.event(instance, STEP_STARTED, StepStarted(attempt=attempt)))
        ctx = self._context(instance, rendered, attempt, output_path, log)
        end = self._try_now(instance, ctx, factory)
        if end is None:
            return False
        publish = self._log_publisher(instance, attempt)
        for stream, text in held:
            publish(stream, text)
        if end.status != "succeeded":
            output_path.unlink(missing_ok=True)
        record = self._record(instance, attempt, started, log, end, start)

        def committed(error: BaseException | None) -> None:
            if error is None and end.status == "succeeded":
                self.outputs[instance.key] = dict(end.outputs or {})
            ended(end.step_status or end.status, error)

        self.commits.queue(record, committed)
        return True

    def _try_now(
        self, instance: Instance, ctx: StepContext, factory: Callable[[], Any]
    ) -> AttemptEnd | None:
        """A try driven by hand; None (the try abandoned) when it awaits something."""
        try:
            steps = factory().run(ctx).__await__()
            try:
                steps.send(None)
            except StopIteration as stop:
                # an instant step writes no $NESTR_OUTPUT file: its outputs are what it returns
                return _success(ctx, stop.value, read_file=False)
        except asyncio.CancelledError:
            return None  # the task path reports what a step that cancels itself means
        except Exception as exc:  # a broken step plugin fails its step, not the whole run
            return self._ended_by(exc, instance, final=True)
        steps.close()
        return None

    def _base_dir(self, instance: Instance) -> Path:
        if instance.repo is not None:
            return self.spec.root / instance.repo.path
        return self.spec.root

    async def _attempt(
        self,
        instance: Instance,
        rendered: Rendered,
        factory: Callable[[], Any],
        attempt: int,
        *,
        final: bool,
    ) -> AttemptEnd:
        output_path = self._output_path(instance.key, attempt)
        log = CapturedLog(cap=self.options.log_cap, publish=self._log_publisher(instance, attempt))
        started = self.options.clock()
        started_event = self.event(instance, STEP_STARTED, StepStarted(attempt=attempt))
        start: tuple[float, Event] | None = (started, started_event)
        ctx = self._context(instance, rendered, attempt, output_path, log, recorded=True)
        try:
            if not is_instant(factory):
                start = None  # the write commits the start even if a cancel lands meanwhile
                begun = AttemptStart(
                    self.spec.run_id, instance.key, attempt, started, started_event
                )
                await self.commits.write(begun, finishes=False)
            end = await self._try(instance, ctx, factory, final=final)
        except asyncio.CancelledError:
            output_path.unlink(missing_ok=True)
            cancelled = AttemptEnd("cancelled", step_status="cancelled", error="cancelled")
            self.commits.now(self._record(instance, attempt, started, log, cancelled, start))
            raise
        if end.status != "succeeded":  # a success took (read and removed) the file already
            output_path.unlink(missing_ok=True)
        record = self._record(instance, attempt, started, log, end, start)
        await self.commits.write(record, finishes=True)
        return end

    def _context(
        self,
        instance: Instance,
        rendered: Rendered,
        attempt: int,
        output_path: Path,
        log: CapturedLog,
        *,
        recorded: bool = False,
    ) -> StepContext:
        """What a try is given; with ``recorded``, each process group it starts is recorded
        (an instant step starts none)."""
        processes: ProcessRunner = self.processes
        if recorded:
            processes = _RecordedProcesses(self, instance.key, attempt)
        env = {**rendered.env, "NESTR_OUTPUT": str(output_path), "NESTR_RUN_ID": self.spec.run_id}
        return StepContext(
            run_id=self.spec.run_id,
            step_id=instance.step.id,
            key=instance.key,
            attempt=attempt,
            root=self.spec.root,
            cwd=rendered.cwd,
            output_path=output_path,
            log=log,
            processes=processes,
            settings=self.spec.settings,
            emit=StepEmitter(self.bus, self.spec.run_id, instance.key, _repo_name(instance)),
            with_=rendered.with_,
            env=env,
            repo=instance.repo,
            repo_dir=self._base_dir(instance) if instance.repo else None,
            manifest_path=self.spec.manifest_path,
            state_dir=self.spec.state_dir,
        )

    async def _try(
        self, instance: Instance, ctx: StepContext, factory: Callable[[], Any], *, final: bool
    ) -> AttemptEnd:
        try:
            async with asyncio.timeout(instance.step.timeout):
                returned = await factory().run(ctx)
            return _success(ctx, returned)
        except Exception as exc:  # a broken step plugin fails its step, not the whole run
            return self._ended_by(exc, instance, final)

    def _ended_by(self, exc: Exception, instance: Instance, final: bool) -> AttemptEnd:
        if isinstance(exc, TimeoutError):
            timeout = instance.step.timeout
            return self._failure(
                "timed_out", f"timed out after {timeout:g}s", None, instance, final
            )
        if isinstance(exc, StepFailed):
            return self._failure("failed", exc.message, exc.returncode, instance, final)
        if isinstance(exc, NestrError):
            return self._failure("failed", exc.message, None, instance, final)
        return self._failure("failed", f"{type(exc).__name__}: {exc}", None, instance, final)

    @staticmethod
    def _failure(
        status: str, error: str, code: int | None, instance: Instance, final: bool
    ) -> AttemptEnd:
        return AttemptEnd(
            status, step_status="failed" if final else None, exit_code=code, error=error
        )

    def _record(
        self,
        instance: Instance,
        attempt: int,
        started: float,
        log: CapturedLog,
        end: AttemptEnd,
        start: tuple[float, Event] | None,
    ) -> Record:
        """The record of a try's end (and of its start too, for an instant step's try)."""
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
        event = self.event(instance, kind, data)
        run_id, key = self.spec.run_id, instance.key
        if start is None:
            return AttemptFinish(run_id, key, attempt, end, now, event)
        return WholeAttempt(run_id, key, attempt, start, end, now, event)

    def _log_publisher(self, instance: Instance, attempt: int) -> Callable[[str, str], None]:
        def publish(stream: str, text: str) -> None:
            data = StepLog(stream=stream, text=text, attempt=attempt)
            self.bus.publish(self.events.event(instance, STEP_LOG, data, severity="debug"))

        return publish

    def _output_path(self, key: str, attempt: int) -> Path:
        if self._output_dir is None:
            self._output_dir = self.spec.state_dir / "runs" / self.spec.run_id
            self._output_dir.mkdir(parents=True, exist_ok=True)
        # Not created here: a step that writes outputs creates it (`>>` does); most never do.
        safe = self._safe_names.get(key)
        if safe is None:
            safe = self._safe_names[key] = _UNSAFE.sub(_escaped, key)
        # Unique per try: a key is escaped one-to-one, attempts are numbered within a claim of
        # the run, and only one process holds each claim.
        return self._output_dir / f"{safe}.{self.spec.claim}.{attempt}.output"

    def group_started(self, key: str, attempt: int, group: Group) -> None:
        """Record a process group a try started, with the next commit (not waited for)."""
        record = GroupStarted(self.spec.run_id, key, attempt, group.pgid, group.start, boot_id())
        self.commits.queue(record, _ignored)


@dataclass(frozen=True)
class _RecordedProcesses:
    """The process runner of one try: each group it starts is recorded in the store, so a
    resume or cancel after nestr died can end what is left of it."""

    runner: InstanceRunner
    key: str
    attempt: int

    async def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: LogSink,
        shell: bool = False,
    ) -> int:
        return await self.runner.processes.run(
            argv, cwd=cwd, env=env, log=log, shell=shell, started=self._started
        )

    def _started(self, group: Group) -> None:
        self.runner.group_started(self.key, self.attempt, group)


def _repo_name(instance: Instance) -> str | None:
    return instance.repo.name if instance.repo else None


def _escaped(match: re.Match[str]) -> str:
    """``%XX`` per byte: ``%`` is escaped too, so two keys never give one name."""
    return "".join(f"%{byte:02X}" for byte in match.group().encode())


def _ignored(error: BaseException | None) -> None:
    """A group record that did not commit: the helper that ends groups still has it."""


def _success(ctx: StepContext, returned: Any, *, read_file: bool = True) -> AttemptEnd:
    from_file = take_outputs(ctx.output_path) if read_file else {}
    outputs = {**from_file, **dict(returned or {})}
    return AttemptEnd("succeeded", step_status="succeeded", exit_code=0, outputs=outputs)


def instance_outputs(done: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    return {key: dict(record.outputs) for key, record in done.items()}


def _refuse_symlinked(root: Path, path: str) -> None:
    """A per-repo step never runs in a repo reached through a symlink (as ``assemble`` and
    ``foreach`` refuse it): the link could lead out of the workspace."""
    from nestr.symlinks import first_symlink

    link = first_symlink(root.resolve(), path)
    if link is not None:
        raise UsageError(
            f"repo directory {root / path} is reached through the symlink {link}",
            hint="replace the symlink with a real directory inside the workspace",
        )
