"""``nestr.v1.WorkflowService``: start, inspect, cancel, resume and retry workflow runs over
gRPC.

Starting and resuming return at once: the run becomes a task of the server's event loop, and
its progress is the event stream (``EventService.Subscribe`` with the run's id). The server
owns the runs it starts — they are recorded with its pid, so ``nestr runs cancel`` from a shell
and ``CancelRun`` both reach them — and keeps each task until it ends. When the server shuts
down it stops them for a *shutdown*, not a cancel (:meth:`WorkflowService.shut_down`): they are
left ``interrupted`` and the next server resumes them.

Bad input is still reported by the call itself: the workflow and its inputs are loaded before
the task starts, and the task's first step (validating the inputs and recording the run, or
claiming the run to resume) runs before the call returns — see :meth:`WorkflowService._launch`.
Errors map to statuses through :mod:`nestr.server.errors`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nestr.errors import NotFound, UsageError
from nestr.observability.logging import get_logger
from nestr.server._proto import workflow_pb2 as pb
from nestr.server._proto import workflow_pb2_grpc as pb_grpc
from nestr.server.acting import acting_session
from nestr.server.errors import Context, mapped

if TYPE_CHECKING:
    from nestr.session import Session
    from nestr.store.compensations import FailedStep
    from nestr.store.records import AttemptRecord, LogRecord, RunRecord, StepRecord
    from nestr.workflow.executor import RunResult
    from nestr.workflow.rungraph import StepNode

RUNS_DEFAULT = 50
log = get_logger("nestr.server")


@dataclass(frozen=True)
class _Active:
    """A run this server is running: its task and the events that stop it (a cancel ends it
    ``cancelled``; a shutdown leaves it to a resume)."""

    task: asyncio.Task[RunResult]
    cancel: asyncio.Event
    shutdown: asyncio.Event


class WorkflowService(pb_grpc.WorkflowServiceServicer):
    """Runs workflows of ``session`` in the server's loop; ``active`` holds the runs going on."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.active: dict[str, _Active] = {}

    @mapped
    async def StartRun(self, request: pb.StartRunRequest, context: Context) -> pb.StartRunResponse:
        from nestr.workflow.runs import new_run_id

        if not request.workflow:
            raise UsageError("StartRun: workflow is empty", hint="name a workflow of the manifest")
        acting = self._acting()
        target = acting.run_target(
            request.workflow,
            manifest=self._path(request.manifest),
            workspace=self._path(request.workspace),
            variables=[f"{k}={v}" for k, v in sorted(request.variables.items())],
        )
        run_id, stops = new_run_id(), _Stops()
        work = acting.run(
            target,
            jobs=request.jobs or None,
            cancel=stops.cancel,
            run_id=run_id,
            shutdown=stops.shutdown,
        )
        await self._launch(run_id, work, stops)
        return pb.StartRunResponse(run_id=run_id)

    @mapped
    async def ResumeRun(
        self, request: pb.ResumeRunRequest, context: Context
    ) -> pb.ResumeRunResponse:
        run_id = self._acting().resume_target(request.run_id).id
        await self.launch_resume(run_id, jobs=request.jobs or None)
        return pb.ResumeRunResponse(run_id=run_id)

    @mapped
    async def GetRun(self, request: pb.GetRunRequest, context: Context) -> pb.GetRunResponse:
        # in a thread: a Temporal run nobody follows is refreshed from its cluster first
        detail = await asyncio.to_thread(self.session.queries.detail, request.run_id)
        return pb.GetRunResponse(
            run=run_message(detail.run),
            steps=[step_message(s) for s in detail.steps],
            attempts=[attempt_message(a) for a in detail.attempts],
            graph=self._graph(detail.run),
        )

    def _graph(self, record: RunRecord) -> list[pb.StepNode]:
        """The run's DAG as the local Run screen draws it; none when the definition the run
        recorded cannot be read (the run itself is still answered)."""
        try:
            graph = self.session.queries.graph(record)
        except Exception as error:  # an old or damaged definition: GetRun still answers
            log.warning("run definition unreadable", run_id=record.id, error=str(error))
            return []
        return [node_message(n) for n in graph.steps]

    @mapped
    async def ListRuns(self, request: pb.ListRunsRequest, context: Context) -> pb.ListRunsResponse:
        runs = await asyncio.to_thread(self.session.queries.runs, request.limit or RUNS_DEFAULT)
        return pb.ListRunsResponse(runs=[run_message(r) for r in runs])

    @mapped
    async def CancelRun(
        self, request: pb.CancelRunRequest, context: Context
    ) -> pb.CancelRunResponse:
        # in a thread: a Temporal run nobody follows is cancelled on its cluster, waited for
        done = await asyncio.to_thread(self._acting().cancel, request.run_id)
        active = self.active.get(done.run.id)
        if done.outcome == "requested" and active is not None:
            active.cancel.set()  # ours: no need to wait for the executor to poll the request
        return pb.CancelRunResponse(run=run_message(done.run), outcome=done.outcome)

    @mapped
    async def GetStepLog(
        self, request: pb.GetStepLogRequest, context: Context
    ) -> pb.GetStepLogResponse:
        found = self.session.queries.step_logs(request.run_id, request.step or None)
        logs = found.records
        if request.HasField("attempt"):
            logs = [r for r in logs if r.attempt == request.attempt]
            if not logs:
                run_id = self.session.queries.find_run(request.run_id).id
                raise NotFound(
                    f"run {run_id} has no output of attempt {request.attempt}"
                    + (f" of {request.step!r}" if request.step else ""),
                    kind="attempt",
                    name=str(request.attempt),
                    hint="see the attempts GetRun lists",
                )
        elsewhere = [
            pb.LogsElsewhere(host=p.host, state_dir=p.state_dir, keys=list(p.keys))
            for p in found.elsewhere
        ]
        return pb.GetStepLogResponse(logs=[_log_message(r) for r in logs], elsewhere=elsewhere)

    @mapped
    async def ListFailedSteps(
        self, request: pb.ListFailedStepsRequest, context: Context
    ) -> pb.ListFailedStepsResponse:
        found = self.session.failed_steps(request.run_id or None)
        return pb.ListFailedStepsResponse(steps=[_failed_message(f) for f in found])

    @mapped
    async def RetryStep(
        self, request: pb.RetryStepRequest, context: Context
    ) -> pb.RetryStepResponse:
        if not request.step:
            raise UsageError("RetryStep: step is empty", hint="name a failed step of the run")
        acting = self._acting()
        run_id = acting.resume_target(request.run_id).id
        stops = _Stops()
        work = acting.retry_step(
            run_id, request.step, jobs=request.jobs or None, cancel=stops.cancel
        )
        await self._launch(run_id, work, stops)
        return pb.RetryStepResponse(run_id=run_id)

    def shut_down(self) -> None:
        """Stop every run going for a shutdown: their steps' process groups are terminated,
        nothing is recorded as ended, and each run is left ``interrupted`` for a resume (the
        next server's, with ``server.resume_interrupted``). :meth:`stopped` waits for them."""
        for active in self.active.values():
            active.shutdown.set()

    async def stopped(self) -> None:
        """Until every run going has ended. Waiting here never cancels a run (unlike a
        gather), so a drain that stops waiting leaves them to finish their shutdown."""
        tasks = [active.task for active in self.active.values()]
        if tasks:
            await asyncio.wait(tasks)

    async def close(self) -> None:
        """Stop the runs still going for a shutdown and wait until they ended: their steps'
        processes are gone and they are left ``interrupted`` (a resume continues them). Called
        when the server stops, before the session's store closes: a run left to the loop's
        teardown would still be writing to it."""
        self.shut_down()
        await self.stopped()

    async def launch_resume(self, run_id: str, *, jobs: int | None = None) -> None:
        """Resume run ``run_id`` as a task of the server, returning once it claimed the run
        (raising what claiming it raised: e.g. another process resumed it first)."""
        stops = _Stops()
        work = self._acting().resume(
            run_id, jobs=jobs, cancel=stops.cancel, shutdown=stops.shutdown
        )
        await self._launch(run_id, work, stops)

    async def _launch(
        self, run_id: str, work: Coroutine[Any, Any, RunResult], stops: _Stops
    ) -> None:
        """Start ``work`` as a task and return once it recorded the run (or raise its error).

        A new task's first step runs in the next turn of the loop, before this coroutine
        resumes from ``sleep(0)``, and it goes on without waiting until the executor's first
        real wait: by then it validated the inputs and recorded the run (or claimed it to
        resume), or it failed doing so, and that error is the call's.
        """
        task = asyncio.create_task(work, name=f"nestr run {run_id}")
        await asyncio.sleep(0)
        if task.done():
            task.result()  # raises what starting the run raised
        self.active[run_id] = _Active(task, stops.cancel, stops.shutdown)
        task.add_done_callback(lambda done: self._ended(run_id, done))

    def _ended(self, run_id: str, task: asyncio.Task[RunResult]) -> None:
        if self.active.get(run_id, None) is not None and self.active[run_id].task is task:
            del self.active[run_id]
        if task.cancelled():
            return
        if (error := task.exception()) is not None:
            log.error("run ended with an error", run_id=run_id, error=str(error), exc_info=error)
        elif task.result().status == "interrupted":
            log.info("run left to a resume", run_id=run_id)

    def _acting(self) -> Session:
        """The session acting in this call's correlation: the run's events, logs and step
        processes carry the call's id (see :func:`~nestr.server.acting.acting_session`)."""
        return acting_session(self.session)

    def _path(self, text: str) -> Path | None:
        """A path a client gave, on this machine; relative: to the server's directory."""
        return self.session.cwd / text if text else None


@dataclass(frozen=True)
class _Stops:
    """The two ways a run of the server stops early: a cancel, a shutdown."""

    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)


def run_message(record: RunRecord) -> pb.Run:
    """The protobuf form of a run, its status as shown (``nestr runs show --json``)."""
    from nestr.workflow.liveness import run_dict

    shown = run_dict(record)
    return pb.Run(
        id=record.id,
        workflow=record.workflow,
        status=shown["status"],
        inputs_json=_json(record.inputs),
        created=record.created,
        finished=record.finished,
        owner=pb.Owner(pid=record.owner_pid or 0, host=record.owner_host or ""),
        heartbeat=record.heartbeat,
        cancel_requested=record.cancel_requested is not None,
        resumes=record.resumes,
        compensation=record.compensation,
    )


def _failed_message(item: FailedStep) -> pb.FailedStep:
    """The protobuf form of an entry of the dead-letter list."""
    return pb.FailedStep(
        run_id=item.run_id,
        workflow=item.workflow,
        key=item.key,
        step=item.step,
        repo=item.repo,
        attempts=item.attempts,
        finished=item.finished,
        exit_code=item.exit_code,
        error=item.error,
    )


def step_message(step: StepRecord) -> pb.Step:
    """The protobuf form of a step instance."""
    return pb.Step(
        key=step.key,
        step=step.step_id,
        repo=step.repo,
        status=step.status,
        attempts=step.attempts,
        started=step.started,
        finished=step.finished,
        duration=step.duration,
        exit_code=step.exit_code,
        error=step.error,
        outputs_json=_json(step.outputs),
    )


def node_message(node: StepNode) -> pb.StepNode:
    """The protobuf form of a step of a run's DAG."""
    retry = node.retry
    return pb.StepNode(
        id=node.id,
        needs=node.needs,
        layer=node.layer,
        foreach=node.foreach,
        retry=pb.RetryPolicy(
            attempts=retry.attempts,
            backoff=retry.backoff,
            initial=retry.initial,
            max=retry.max,
            jitter=retry.jitter,
        ),
    )


def attempt_message(attempt: AttemptRecord) -> pb.Attempt:
    """The protobuf form of one attempt of a step instance."""
    return pb.Attempt(
        key=attempt.key,
        attempt=attempt.attempt,
        status=attempt.status,
        started=attempt.started,
        finished=attempt.finished,
        exit_code=attempt.exit_code,
        error=attempt.error,
    )


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _log_message(record: LogRecord) -> pb.StepLog:
    return pb.StepLog(
        key=record.key,
        attempt=record.attempt,
        stream=record.stream,
        text=record.text,
        truncated=record.truncated,
    )
