"""The worker's half: one try of a step instance, as a Temporal activity.

The activity rebuilds the run's plan from its context (fetched once per run by a query to
the run's workflow, then cached, and checked against the plan hash each step names),
prepares the instance and runs one try with ``nestr.workflow.attempt``, as the local
executor does. It heartbeats while the try runs, so a worker that dies is noticed within the
heartbeat timeout and a cancel reaches the try, whose process group is then killed. Step
events and log lines go to the worker's own event log, carrying the Temporal workflow and
run ids, and each try's captured output to the worker's store (its ``logs`` table). The
activity returns where that log is (:class:`~nestr.temporal.shapes.LogPlace`), the outputs
that fit ``temporal.inline_outputs`` and references to the others, and an error cut to a
bound (``nestr.temporal.payloads``): history stays small, the whole of it stays on the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from nestr.config.settings import Settings
from nestr.events.bus import EventBus
from nestr.events.catalog import (
    STEP_FINISHED,
    STEP_LOG,
    STEP_STARTED,
    StepEnded,
    StepLog,
    StepStarted,
)
from nestr.store.attempts import AttemptEnd, record_logs
from nestr.store.db import Database, open_database
from nestr.temporal.payloads import bounded_error, scope_outputs, split_outputs
from nestr.temporal.shapes import (
    ACTIVITY_NAME,
    DEFINITION_QUERY,
    FAILURE_TYPE,
    TIMEOUT_TYPE,
    LogPlace,
    RunContext,
    StepInput,
    StepResult,
)
from nestr.workflow.attempt import Unrunnable, output_path, prepare, run_try, step_context
from nestr.workflow.capture import CapturedLog
from nestr.workflow.emitter import StepEmitter
from nestr.workflow.executor import RunSpec
from nestr.workflow.model import Workflow
from nestr.workflow.plan import Instance, build_plan, repo_from
from nestr.workflow.process import DEFAULT_GRACE, GroupProcessRunner
from nestr.workflow.registry import StepRegistry
from nestr.workflow.render import reads_scope
from nestr.workflow.saga import instance_of
from nestr.workflow.scope import build_scope
from nestr.workflow.stepevents import StepEvents


def plan_hash(context: dict[str, Any]) -> str:
    """The hash that names a run's plan: its definition, selected repos, inputs and root."""
    text = json.dumps(context, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


SPEC_CACHE = 256  # runs whose plans a worker keeps


def context_hash(context: RunContext) -> str:
    """The plan hash of ``context``'s content (what the workflow's input says it is)."""
    return plan_hash(
        {
            "definition": context.definition,
            "selected": context.selected,
            "inputs": context.inputs,
            "root": context.root,
            "manifest": context.manifest,
        }
    )


class StepActivities:
    """The activities one worker runs; holds its client, store and plan cache."""

    def __init__(
        self,
        client: Client,
        bus: EventBus,
        *,
        state_dir: Path,
        settings: Settings,
        registry: StepRegistry,
        heartbeat_every: float = 1.0,
        kill_grace: float = DEFAULT_GRACE,
    ) -> None:
        self.client = client
        self.bus = bus
        self.state_dir = state_dir
        self.settings = settings
        self.registry = registry
        self.heartbeat_every = heartbeat_every
        self.kill_grace = kill_grace
        self.host = socket.gethostname()
        self.home = state_dir.resolve()  # where the logs and stored outputs are, for others
        self._db: Database | None = None  # the store the logs go to, opened on first use
        self._specs: dict[tuple[str, str], RunSpec] = {}  # by (workflow run, plan hash)
        self._env = dict(os.environ)

    @activity.defn(name=ACTIVITY_NAME)
    async def run_step(self, step: StepInput) -> StepResult:
        """Run one try of ``step.key``; raise an ``ApplicationError`` when it fails. It
        heartbeats from its first moment: fetching the plan may take a while."""
        async with _heartbeating(self.heartbeat_every):
            return await self._run_step(step)

    async def _run_step(self, step: StepInput) -> StepResult:
        info = activity.info()
        workflow_id, workflow_run = info.workflow_id or "", info.workflow_run_id or ""
        spec = await self._spec(step, workflow_id, workflow_run)
        instance = instance_of(spec.plan, step.key)
        events = _TemporalEvents(spec.run_id, workflow_id, workflow_run)
        scope: dict[str, Any] = {}
        if reads_scope(instance.step):
            scope = build_scope(
                instance,
                spec.plan,
                run_id=spec.run_id,
                inputs=spec.inputs,
                states=step.states,
                outputs=scope_outputs(step.outputs, step.stored),
                root=spec.root,
            )
        prepared = prepare(instance, scope, spec, self.registry, self._env)
        if isinstance(prepared, Unrunnable):
            return self._unrunnable(events, instance, prepared)
        attempt = info.attempt
        final = attempt >= max(1, instance.step.retry.attempts)
        place = LogPlace(self.host, str(self.home), attempt)
        output = output_path(spec.state_dir / "runs" / spec.run_id, step.key, 0, attempt)
        output.parent.mkdir(parents=True, exist_ok=True)
        log = CapturedLog(publish=self._log_publisher(events, instance, attempt))
        ctx = step_context(
            spec,
            instance,
            prepared,
            attempt,
            output,
            log=log,
            processes=GroupProcessRunner(self.kill_grace),
            emit=StepEmitter(self.bus, spec.run_id, instance.key, _repo(instance)),
        )
        self.bus.publish(events.event(instance, STEP_STARTED, StepStarted(attempt=attempt)))
        try:
            end = await run_try(instance, ctx, prepared.factory, final=final)
        except asyncio.CancelledError:
            ended = StepEnded(attempt=attempt, status="cancelled", reason="cancelled")
            self.bus.publish(events.event(instance, STEP_FINISHED, ended))
            raise
        finally:
            output.unlink(missing_ok=True)
            self._keep_log(spec.run_id, step.key, attempt, log)
        self.bus.publish(events.event(instance, STEP_FINISHED, _ended(end, attempt, log)))
        if end.status == "succeeded":
            return self._succeeded(spec.run_id, step.key, end, place)
        kind = TIMEOUT_TYPE if end.status == "timed_out" else FAILURE_TYPE
        # The step's last try ends it; an earlier one is retried by Temporal's policy. A try
        # lost with its worker raises nothing here: Temporal retries it whatever the count.
        error = bounded_error(end.error or end.status, place)
        raise ApplicationError(error, attempt, asdict(place), type=kind, non_retryable=final)

    def _succeeded(self, run_id: str, key: str, end: AttemptEnd, place: LogPlace) -> StepResult:
        """The result of a try that succeeded: outputs over ``temporal.inline_outputs`` are
        written to this worker's store and referenced."""
        directory = output_path(self.home / "runs" / run_id / "outputs", key, 0, place.attempt)
        bound = self.settings.temporal.inline_outputs
        inline, stored = split_outputs(
            end.outputs or {}, bound, directory.with_suffix(""), self.host
        )
        return StepResult("succeeded", inline, attempt=place.attempt, stored=stored, log=place)

    def _unrunnable(
        self, events: _TemporalEvents, instance: Instance, prepared: Unrunnable
    ) -> StepResult:
        """The result of an instance skipped or failed before it ran (its failure, with the
        whole reason, goes to this worker's event log)."""
        if prepared.status == "failed":
            ended = StepEnded(attempt=0, status="failed", error=prepared.reason)
            self.bus.publish(events.event(instance, STEP_FINISHED, ended))
        error = bounded_error(prepared.reason, LogPlace(self.host, str(self.home), 0))
        return StepResult(prepared.status, error=error, attempt=0)

    def _keep_log(self, run_id: str, key: str, attempt: int, log: CapturedLog) -> None:
        """Write one try's captured output to this worker's store (``nestr runs logs``
        reads it there)."""
        records = log.records()
        if not records:
            return
        if self._db is None:
            self._db = open_database(self.state_dir)
        record_logs(self._db, run_id, key, attempt, records)

    async def _spec(self, step: StepInput, workflow_id: str, run_id: str) -> RunSpec:
        """The run's spec, rebuilt from its context (asked of the workflow once per hash)."""
        cached = self._specs.get((run_id, step.plan_hash))
        if cached is not None:
            return cached
        handle = self.client.get_workflow_handle(workflow_id, run_id=run_id)
        context = await handle.query(DEFINITION_QUERY, result_type=RunContext)
        if context_hash(context) != step.plan_hash:  # never runs a step of another plan
            raise ApplicationError(
                f"run {context.run_id}: its plan is not {step.plan_hash}", non_retryable=True
            )
        spec = self.spec_of(context)
        if len(self._specs) >= SPEC_CACHE:  # the oldest run's first: runs end
            del self._specs[next(iter(self._specs))]
        self._specs[(run_id, step.plan_hash)] = spec
        return spec

    def spec_of(self, context: RunContext) -> RunSpec:
        """The :class:`RunSpec` a worker runs the instances of ``context``'s run with."""
        selected = {k: [repo_from(r) for r in v] for k, v in context.selected.items()}
        plan = build_plan(Workflow.from_dict(context.definition), selected)
        return RunSpec(
            context.run_id,
            plan,
            context.inputs,
            Path(context.root),
            self.state_dir,
            Path(context.manifest) if context.manifest else None,
            settings=self.settings,
        )

    def _log_publisher(
        self, events: _TemporalEvents, instance: Instance, attempt: int
    ) -> Callable[[str, str], None]:
        def publish(stream: str, text: str) -> None:
            data = StepLog(stream=stream, text=text, attempt=attempt)
            self.bus.publish(events.event(instance, STEP_LOG, data, severity="debug"))

        return publish


class _TemporalEvents(StepEvents):
    """Step events whose data name the Temporal workflow and run they belong to."""

    def __init__(self, run_id: str, workflow_id: str, temporal_run_id: str) -> None:
        super().__init__(run_id)
        self.temporal = {"workflow_id": workflow_id, "run_id": temporal_run_id}

    def event(self, instance: Any, type: Any, data: Any, severity: Any = None) -> Any:
        tagged = {**cast("dict[str, Any]", data), "temporal": self.temporal}
        return super().event(instance, type, tagged, severity)


def _ended(end: AttemptEnd, attempt: int, log: CapturedLog) -> StepEnded:
    data = StepEnded(attempt=attempt, status=end.status, exit_code=end.exit_code)
    if end.status == "succeeded":
        data["outputs"] = dict(end.outputs or {})
    else:
        data["error"] = end.error
        data["log_tail"] = log.tail()
    return data


def _repo(instance: Instance) -> str | None:
    return instance.repo.name if instance.repo else None


@contextlib.asynccontextmanager
async def _heartbeating(every: float) -> Any:
    """Heartbeat every ``every`` seconds while the body runs: a dead worker is noticed, and
    a cancel of the activity is delivered (as ``CancelledError``) only to one that beats.
    ``every`` is well under the heartbeat timeout (``nestr worker`` takes a quarter of it)."""

    async def beat() -> None:
        while True:  # not at once: a step shorter than ``every`` costs the cluster no call
            await asyncio.sleep(every)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
