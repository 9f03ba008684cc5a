"""The ``temporal`` executor: submits a run to a Temporal cluster and projects it into the store.

The run is recorded in the submitter's store as for the local executor (``nestr runs`` and
``runs show`` list it); the workflow ``nestr-<run id>`` then runs it on the cluster's
workers, and this executor polls the workflow's progress query and copies each instance's
changes into the store, with their events (their data name the Temporal workflow and run:
``temporal: {workflow_id, run_id}``), until the workflow's result gives the final states. A
cancel (``cancel()``, the run's cancel event, or a cancel request ``nestr runs cancel`` wrote)
cancels the workflow. A shutdown of the submitter leaves the run running on the cluster and
the record ``interrupted``; a resume re-attaches to the same workflow (it is never started
twice) and, when the plan it runs differs from the record's, says so and lets it go on with
its own plan. A retry of failed steps of an ended run (``nestr runs retry``) is a workflow of
its own, ``nestr-<run id>-retry-<n>``: the run's plan with the steps that succeeded done (their
outputs in its input) and the other ends kept, so only the retried steps and what they held
back run. The record names the workflow that runs it (``temporal`` in its context), which
``nestr.temporal.tracking`` reads when nobody follows the run any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any, Literal

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from nestr.config.settings import Settings
from nestr.events.catalog import (
    COMPENSATION_FINISHED,
    RUN_FINISHED,
    RUN_INTERRUPTED,
    CompensationFinished,
    RunFinished,
    RunInterrupted,
)
from nestr.events.envelope import Event
from nestr.store.records import RunStatus, StepRecord
from nestr.temporal.compile import run_input
from nestr.temporal.projection import Projection
from nestr.temporal.shapes import PROGRESS_QUERY, WORKFLOW_NAME, RunInput, RunOutcome
from nestr.temporal.worker import connect
from nestr.workflow.executor import (
    Executor,
    ExecutorSetup,
    RunResult,
    RunSpec,
    StopReason,
    status_counts,
)

MEMO_WORKFLOW = "nestr_workflow"  # memo keys of a run's workflow: its name and plan hash
MEMO_PLAN = "nestr_plan"
LIST_LIMIT = 1000  # in-flight runs looked at for a changed definition
LIST_TIMEOUT = 5.0  # seconds the listing of runs in flight may take
logger = logging.getLogger(__name__)
# Seconds between progress queries: each is a task the run's workflow answers between its
# own, so asking often slows the run (every 0.2 s cost a 1,000-step run about a fifth more).
PROGRESS_EVERY = 1.0
RESULT_RETRY = 0.5  # seconds between waits for a result while the cluster is away
_TRANSIENT = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}
)
STOPPED_REASON = "the submitting process stopped; the run goes on in Temporal"


def workflow_id(run_id: str) -> str:
    """The Temporal workflow id of nestr run ``run_id``."""
    return f"nestr-{run_id}"


def retry_workflow_id(run_id: str, number: int) -> str:
    """The Temporal workflow id of the ``runs retry`` that is takeover ``number`` of run
    ``run_id``."""
    return f"{workflow_id(run_id)}-retry-{number}"


def resume_workflow_id(run_id: str, number: int) -> str:
    """The Temporal workflow id of the ``runs resume`` that is takeover ``number`` of run
    ``run_id``, which had ended failed or cancelled."""
    return f"{workflow_id(run_id)}-resume-{number}"


def tracked(
    settings: Settings, workflow: str, offsets: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """What a run's context records of where it runs: the executor, the cluster, the
    workflow, and the tries recorded before that workflow's first (a retry's)."""
    cluster = settings.temporal
    where = {"address": cluster.address, "namespace": cluster.namespace}
    return {
        "executor": "temporal",
        "temporal": {**where, "workflow_id": workflow, "attempts_before": dict(offsets or {})},
    }


class TemporalExecutor:
    """Drives one run on Temporal (an :class:`~nestr.workflow.executor.Executor`)."""

    def __init__(self, setup: ExecutorSetup, client: Client | None = None) -> None:
        self.setup = setup
        self.client = client
        self.stop_reason: StopReason | None = None
        self._wake = asyncio.Event()

    def cancel(self) -> None:
        self._stop("cancel")

    def shutdown(self) -> None:
        self._stop("shutdown")

    def _stop(self, reason: StopReason) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self._wake.set()

    async def execute(self, spec: RunSpec) -> RunResult:
        started = time.perf_counter()
        client = self.client or await connect(spec.settings)
        settings = spec.settings.temporal
        submitted = run_input(
            spec, limit=self.setup.options.concurrency, heartbeat=settings.heartbeat_timeout
        )
        name, plan = spec.plan.workflow.name, submitted.context.plan_hash
        await other_plans_in_flight(client, name, plan)
        target, offsets = self._target(spec)
        # recorded before the workflow may exist: whoever reads the run finds it there
        self.setup.store.note_context(spec.run_id, tracked(spec.settings, target, offsets))
        memo = {MEMO_WORKFLOW: name, MEMO_PLAN: plan}
        handle = await self._start(client, spec, submitted, memo, target)
        run_ids = {"workflow_id": handle.id, "run_id": handle.result_run_id or ""}
        projection = Projection(self.setup.store, self.setup.bus, spec, run_ids, offsets)
        status, compensation = await self._follow(spec, handle, projection)
        steps = tuple(self.setup.store.steps(spec.run_id))
        seconds = time.perf_counter() - started
        name = spec.plan.workflow.name
        result = RunResult(spec.run_id, name, status, steps, seconds, compensation)
        if status == "interrupted":
            self._release(spec, steps, run_ids)
        else:
            self._finish(spec, result, run_ids)
        return result

    def _target(self, spec: RunSpec) -> tuple[str, dict[str, int]]:
        """The workflow that runs ``spec``, and the tries recorded before its first, by key:
        a retry's own (``nestr-RUN-retry-N``, N the run's takeover: never the run's or an
        earlier retry's), its tries numbered after the earlier ones; a resume of a run that
        had ended failed or cancelled: one of its own (``nestr-RUN-resume-N``), which runs what
        did not succeed, numbered likewise; else the workflow the record names (a resume of an
        interrupted run attaches to it); else, for a run that so far ran elsewhere
        than on Temporal (a local run resumed here), the run's own, numbering after the
        tries recorded."""
        if spec.retried:
            offsets = {key: spec.prior_attempts.get(key, 0) for key in spec.retried}
            return retry_workflow_id(spec.run_id, spec.claim), offsets
        if spec.reopened and spec.compensating is None:  # its execution ended with the run
            offsets = {key: n for key, n in spec.prior_attempts.items() if n}
            return resume_workflow_id(spec.run_id, spec.claim), offsets
        recorded = self.setup.store.run(spec.run_id).context.get("temporal", {})
        if recorded.get("workflow_id"):
            return str(recorded["workflow_id"]), dict(recorded.get("attempts_before", {}))
        return workflow_id(spec.run_id), {k: n for k, n in spec.prior_attempts.items() if n}

    async def _start(
        self,
        client: Client,
        spec: RunSpec,
        submitted: RunInput,
        memo: dict[str, str],
        target: str,
    ) -> WorkflowHandle[Any, RunOutcome]:
        """Start the workflow ``target``, or attach to it when it exists, running or closed
        (a resume): a workflow is never started twice, so no step of it runs again."""
        try:
            return await client.start_workflow(
                WORKFLOW_NAME,
                submitted,
                id=target,
                task_queue=spec.settings.temporal.task_queue,
                result_type=RunOutcome,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                memo=memo,
            )
        except WorkflowAlreadyStartedError:
            return client.get_workflow_handle(target, result_type=RunOutcome)

    async def _follow(
        self, spec: RunSpec, handle: WorkflowHandle[Any, RunOutcome], projection: Projection
    ) -> tuple[RunStatus | Literal["interrupted"], str | None]:
        """Project the workflow's progress until it ends (or the submitter stops); how the
        run and its compensations (None when none ran) ended."""
        result = asyncio.ensure_future(_result(handle))
        watchers = [asyncio.ensure_future(self._forward(e, r)) for e, r in self._events()]
        cancelled = False
        next_progress = time.monotonic() + PROGRESS_EVERY
        try:
            while not result.done():
                if self.stop_reason == "shutdown":
                    return "interrupted", "running" if projection.compensating else None
                if self.stop_reason == "cancel" and not cancelled:
                    with contextlib.suppress(RPCError):  # tried again at the next poll
                        await handle.cancel()
                        cancelled = True
                self._wake.clear()
                waker = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait(
                    [result, waker],
                    timeout=self.setup.options.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waker.cancel()
                if result.done():
                    break
                if self._cancel_requested(spec.run_id):
                    self.cancel()
                if time.monotonic() < next_progress:
                    continue
                next_progress = time.monotonic() + PROGRESS_EVERY
                with contextlib.suppress(RPCError):  # the cluster is away: the next poll
                    progress = await handle.query(
                        PROGRESS_QUERY, projection.version, result_type=RunOutcome
                    )
                    projection.apply(progress)
                    projection.version = progress.version
            outcome = result.result()
        finally:
            for task in [*watchers, result]:
                task.cancel()
            await asyncio.gather(*watchers, result, return_exceptions=True)
        if outcome.plan_hash and outcome.plan_hash != projection.plan_hash:
            projection.plan_changed(outcome.plan_hash)
        projection.apply(outcome)
        return run_status(outcome.status), outcome.compensation

    def _events(self) -> list[tuple[asyncio.Event, StopReason]]:
        found: list[tuple[asyncio.Event, StopReason]] = []
        if self.setup.cancel is not None:
            found.append((self.setup.cancel, "cancel"))
        if self.setup.shutdown is not None:
            found.append((self.setup.shutdown, "shutdown"))
        return found

    async def _forward(self, event: asyncio.Event, reason: StopReason) -> None:
        await event.wait()
        self._stop(reason)

    def _cancel_requested(self, run_id: str) -> bool:
        """A cancel request another process wrote (``nestr runs cancel``); beats the run."""
        return self.setup.store.beat(run_id, self.setup.options.clock())

    def _finish(self, spec: RunSpec, result: RunResult, run_ids: dict[str, str]) -> None:
        """Record the run's end and publish ``run.finished`` (after ``compensation.finished``
        when compensations ran), as the local executor does."""
        assert result.status != "interrupted"
        events = finished_events(result, run_ids)
        store, bus = self.setup.store, self.setup.bus
        now = self.setup.options.clock()
        ended = store.finish_run_with(spec.run_id, result.status, now, events, result.compensation)
        for event in ended:
            bus.publish(event)

    def _release(
        self, spec: RunSpec, steps: tuple[StepRecord, ...], run_ids: dict[str, str]
    ) -> None:
        left = sum(1 for s in steps if s.status != "succeeded")
        data = RunInterrupted(workflow=spec.plan.workflow.name, reason=STOPPED_REASON, left=left)
        data["temporal"] = run_ids
        event = RUN_INTERRUPTED.event(
            data, subject=spec.plan.workflow.name, run_id=spec.run_id, severity="warning"
        )
        self.setup.bus.publish(self.setup.store.release_run(spec.run_id, event))


async def _result(handle: WorkflowHandle[Any, RunOutcome]) -> RunOutcome:
    """The workflow's result, waited for across a cluster that is away for a while (a
    restarted server): the SDK retries most calls, this retries what it gives up on."""
    while True:
        try:
            return await handle.result()
        except RPCError as exc:
            if exc.status not in _TRANSIENT:
                raise
            await asyncio.sleep(RESULT_RETRY)


async def other_plans_in_flight(client: Client, workflow: str, plan: str) -> list[str]:
    """The ids of runs of ``workflow`` in flight on the cluster with another plan than
    ``plan`` (its definition changed since they started), logged as a warning: they go on
    with the plan they started with, since the plan travels in their input and workers
    check it by hash. A cluster that cannot list (visibility) within ``LIST_TIMEOUT`` gives
    none."""
    query = f'WorkflowType="{WORKFLOW_NAME}" AND ExecutionStatus="Running"'
    found: list[str] = []

    async def listed() -> None:
        async for execution in client.list_workflows(query, limit=LIST_LIMIT):
            memo = await execution.memo()
            if memo.get(MEMO_WORKFLOW) == workflow and memo.get(MEMO_PLAN) != plan:
                found.append(execution.id.removeprefix("nestr-"))

    try:  # best effort: a slow listing never holds the run back
        await asyncio.wait_for(listed(), LIST_TIMEOUT)
    except (RPCError, TimeoutError):
        logger.info("could not list the runs in flight of workflow %s", workflow)
        return found
    if found:
        logger.warning(
            "workflow %s changed while runs of it are in flight (%s): they go on with the"
            " definition they started with",
            workflow,
            ", ".join(found),
        )
    return found


def finished_events(result: RunResult, run_ids: dict[str, str]) -> list[Event]:
    """The events of a run's end: ``compensation.finished`` when compensations ran, then
    ``run.finished``, their data naming the Temporal workflow and run."""
    status, name, compensation = result.status, result.workflow, result.compensation
    assert status != "interrupted"
    events = []
    if compensation is not None:
        counts = status_counts(result.compensations)
        undone = CompensationFinished(status=compensation, counts=counts)
        events.append(COMPENSATION_FINISHED.event(undone, subject=name, run_id=result.run_id))
    data = RunFinished(status=status, counts=result.counts(), seconds=round(result.seconds, 6))
    if compensation is not None:
        data["compensation"] = compensation
    data["temporal"] = run_ids
    severity = "info" if status == "succeeded" else "error"
    events.append(RUN_FINISHED.event(data, subject=name, run_id=result.run_id, severity=severity))
    return events


def run_status(status: str) -> RunStatus:
    """The run's status a workflow's result gives."""
    if status in {"succeeded", "failed", "cancelled"}:
        return status  # type: ignore[return-value]
    return "failed"


def temporal_executor(setup: ExecutorSetup) -> Executor:
    """The executor of the ``temporal`` setting (the ``nestr.executors`` entry point)."""
    return TemporalExecutor(setup)
