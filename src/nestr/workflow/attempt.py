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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nestr.errors import NestrError
from nestr.events.bus import EventBus
from nestr.events.envelope import Event
from nestr.store.runs import AttemptEnd, RunStore, write_attempt, write_finish, write_start
from nestr.workflow import expressions
from nestr.workflow.capture import CapturedLog
from nestr.workflow.commits import GroupCommit, Record
from nestr.workflow.executor import RunSpec
from nestr.workflow.options import ExecutorOptions
from nestr.workflow.outputs import take_outputs
from nestr.workflow.plan import Instance
from nestr.workflow.process import GroupProcessRunner
from nestr.workflow.protocols import StepContext, StepFailed, is_instant
from nestr.workflow.registry import StepRegistry
from nestr.workflow.render import Rendered, render_instance
from nestr.workflow.retry import retry_delay

STEP_EVENT = "nestr.workflow.step"
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
    _output_dir: str | None = field(default=None, init=False)
    commits: GroupCommit = field(init=False)

    def __post_init__(self) -> None:
        self.commits = GroupCommit(self.store.db, self.bus.publish)

    def event(self, instance: Instance, kind: str, data: dict[str, Any]) -> Event:
        return Event(
            type=f"{STEP_EVENT}.{kind}",
            data=data,
            subject=instance.key,
            run_id=self.spec.run_id,
            step=instance.key,
            repo=instance.repo.name if instance.repo else None,
            severity="error" if data.get("status") == "failed" else "info",
        )

    def settle(self, instance: Instance, status: str, reason: str | None) -> None:
        """End an instance that never ran (skipped, cancelled, or unable to start)."""
        self.ended.add(instance.key)
        data = {"status": status, "reason": reason, "attempt": 0}
        events = self.store.settle_steps(
            self.spec.run_id,
            [(instance.key, status, reason)],
            self.options.clock(),
            [self.event(instance, "finished", data)],
        )
        for event in events:
            self.bus.publish(event)

    async def run(self, instance: Instance, scope: dict[str, Any]) -> str:
        """Run ``instance`` to its final status (``CancelledError`` once recorded cancelled)."""
        step = instance.step
        try:
            if step.condition is not None and not expressions.condition_holds(
                step.condition, {**scope, "env": self.base_env}
            ):
                self.settle(instance, "skipped", "condition is false")
                return "skipped"
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
        started_event = self.event(instance, "started", {"attempt": attempt})
        start: tuple[float, Event] | None = (started, started_event)
        ctx = self._context(instance, rendered, attempt, output_path, log)
        try:
            if not is_instant(factory):
                start = None  # the write commits the start even if a cancel lands meanwhile
                run_id, key = self.spec.run_id, instance.key
                await self.commits.write(
                    lambda conn: [write_start(conn, run_id, key, attempt, started, started_event)],
                    finishes=False,
                )
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
    ) -> StepContext:
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
            processes=self.processes,
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
        timeout = instance.step.timeout
        try:
            async with asyncio.timeout(timeout):
                returned = await factory().run(ctx)
            outputs = {**take_outputs(ctx.output_path), **dict(returned or {})}
        except TimeoutError:
            return self._failure(
                "timed_out", f"timed out after {timeout:g}s", None, instance, final
            )
        except StepFailed as exc:
            return self._failure("failed", exc.message, exc.returncode, instance, final)
        except NestrError as exc:
            return self._failure("failed", exc.message, None, instance, final)
        except Exception as exc:  # a broken step plugin fails its step, not the whole run
            return self._failure("failed", f"{type(exc).__name__}: {exc}", None, instance, final)
        return AttemptEnd("succeeded", step_status="succeeded", exit_code=0, outputs=outputs)

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
        end = AttemptEnd(
            end.status,
            end.step_status,
            end.exit_code,
            end.error,
            end.outputs,
            log.records(),
        )
        data: dict[str, Any] = {
            "attempt": attempt,
            "status": end.step_status or end.status,
            "duration": round(now - started, 6),
            "exit_code": end.exit_code,
            "error": end.error,
        }
        if end.step_status == "succeeded":
            data["outputs"] = end.outputs
        if end.step_status == "failed":
            data["log_tail"] = log.tail()
        kind = "finished" if end.step_status else "retrying"
        if end.step_status:
            self.ended.add(instance.key)
        event = self.event(instance, kind, data)
        run_id, key = self.spec.run_id, instance.key
        if start is None:
            return lambda conn: [write_finish(conn, run_id, key, attempt, end, now, event)]
        return lambda conn: write_attempt(conn, run_id, key, attempt, start, end, now, event)

    def _log_publisher(self, instance: Instance, attempt: int) -> Callable[[str, str], None]:
        def publish(stream: str, text: str) -> None:
            data = {"stream": stream, "text": text, "attempt": attempt}
            self.bus.publish(replace(self.event(instance, "log", data), severity="debug"))

        return publish

    def _output_path(self, key: str, attempt: int) -> Path:
        if self._output_dir is None:
            directory = self.spec.state_dir / "runs" / self.spec.run_id
            directory.mkdir(parents=True, exist_ok=True)
            self._output_dir = str(directory)
        safe = _UNSAFE.sub("_", key)
        # Not created here: a step that writes outputs creates it (`>>` does); most never do.
        return Path(f"{self._output_dir}/{safe}.{attempt}.output")


def instance_outputs(done: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    return {key: dict(record.outputs) for key, record in done.items()}
