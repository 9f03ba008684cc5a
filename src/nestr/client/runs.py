"""The run operations of a remote session: run, resume, cancel, the run queries, and reading
or following the event log of the server.

``StartRun`` and ``ResumeRun`` return at once; the session then follows the run's events
(``Subscribe`` with its id, from the head read before the call, so none is missed), publishes
them on its bus for the face's live view, and reads the run's steps once ``run.finished``
arrives. Setting ``cancel`` (Ctrl-C) asks the server to cancel the run, and the run's end is
still awaited, as a local run ends with its steps stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from grpc import aio

from nestr.client import convert, stubs
from nestr.client.base import RemoteBase, sent_path
from nestr.client.follow import follow
from nestr.events import catalog as c
from nestr.server._proto import events_pb2 as events_pb
from nestr.server._proto import workflow_pb2 as pb
from nestr.workflow.queries import TAIL_LINES

if TYPE_CHECKING:
    from pathlib import Path

    from nestr.events import Event
    from nestr.store.compensations import FailedStep
    from nestr.store.records import RunRecord
    from nestr.workflow.executor import RunResult
    from nestr.workflow.model import Workflow
    from nestr.workflow.queries import Cancellation, RunDetail
    from nestr.workflow.rungraph import RunGraph
    from nestr.workflow.steplogs import StepLogs

PAGE = 1000  # events per GetEvents call


@dataclass(frozen=True)
class RunSelection:
    """A workflow run as the command line asks for it; the server loads the workflow, so
    there is none here for a face to draw (``workflow`` is None)."""

    name: str
    manifest: str
    workspace: str
    variables: dict[str, str]
    workflow: Workflow | None = None


class RemoteRuns(RemoteBase):
    """Run, resume and cancel workflows on the server; read and follow its event log."""

    @property
    def queries(self) -> RemoteQueries:
        """Reads of the server's runs."""
        return RemoteQueries(self)

    def run_target(
        self,
        workflow: str,
        *,
        manifest: Path | None = None,
        workspace: Path | None = None,
        variables: Sequence[str] = (),
    ) -> RunSelection:
        """What ``run`` asks the server to start (``NAME=VALUE`` inputs checked here)."""
        from nestr.workflow.inputs import parse_vars

        values = parse_vars(variables)
        return RunSelection(workflow, sent_path(manifest), sent_path(workspace), values)

    async def run(
        self, target: RunSelection, *, jobs: int | None = None, cancel: asyncio.Event | None = None
    ) -> RunResult:
        """Start the run on the server and follow it to its end."""
        request = pb.StartRunRequest(
            workflow=target.name,
            manifest=target.manifest,
            workspace=target.workspace,
            variables=target.variables,
            jobs=jobs or 0,
        )
        async with self.channel() as channel:
            head = await _head(channel)
            started = await stubs.workflows(channel).StartRun(request)
            return await self._watch(channel, started.run_id, head, cancel)

    async def resume(
        self, run: str, *, jobs: int | None = None, cancel: asyncio.Event | None = None
    ) -> RunResult:
        """Resume run ``run`` (id or prefix) on the server and follow it to its end."""
        async with self.channel() as channel:
            head = await _head(channel)
            request = pb.ResumeRunRequest(run_id=run, jobs=jobs or 0)
            resumed = await stubs.workflows(channel).ResumeRun(request)
            return await self._watch(channel, resumed.run_id, head, cancel)

    async def retry_step(
        self, run: str, step: str, *, jobs: int | None = None, cancel: asyncio.Event | None = None
    ) -> RunResult:
        """Run again the failed instances of ``step`` of the ended run ``run`` on the server,
        and what they held back; follow the run to its end."""
        async with self.channel() as channel:
            head = await _head(channel)
            request = pb.RetryStepRequest(run_id=run, step=step, jobs=jobs or 0)
            retried = await stubs.workflows(channel).RetryStep(request)
            return await self._watch(channel, retried.run_id, head, cancel)

    def failed_steps(self, run: str | None = None) -> list[FailedStep]:
        """The server's dead-letter list (of run ``run`` only, when given)."""

        async def call(channel: aio.Channel) -> list[FailedStep]:
            request = pb.ListFailedStepsRequest(run_id=run or "")
            listed = await stubs.workflows(channel).ListFailedSteps(request)
            return [convert.failed_step(f) for f in listed.steps]

        return self.blocking(call)

    def cancel(self, run: str) -> Cancellation:
        """Ask the server to stop run ``run``."""
        from nestr.workflow.queries import Cancellation

        async def call(channel: aio.Channel) -> Cancellation:
            request = pb.CancelRunRequest(run_id=run)
            done = await stubs.workflows(channel).CancelRun(request)
            return Cancellation(convert.run(done.run), cast("Any", done.outcome))

        return self.blocking(call)

    async def _watch(
        self, channel: aio.Channel, run_id: str, after: int, cancel: asyncio.Event | None
    ) -> RunResult:
        """Publish the run's events until it finished; then its result."""
        from nestr.workflow.executor import RunResult

        watch = events_pb.SubscribeRequest(after_seq=after, run_id=run_id)
        stopping = asyncio.create_task(self._cancel_on(channel, run_id, cancel))
        events = follow(channel, watch, address=self.address, notice=self.notice)
        try:
            async for event in events:
                self.bus.publish(event)
                if event.type == c.RUN_FINISHED.name:
                    ended = c.RUN_FINISHED.data_of(event)
                    break
        finally:
            await events.aclose()  # ends the stream now, not when the generator is collected
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopping
        detail = await _detail(channel, run_id)
        return RunResult(
            run_id,
            detail.run.workflow,
            cast("Any", ended["status"]),
            tuple(detail.steps),
            ended["seconds"],
        )

    async def _cancel_on(
        self, channel: aio.Channel, run_id: str, cancel: asyncio.Event | None
    ) -> None:
        if cancel is None:
            return
        await cancel.wait()
        self.notice(f"cancelling run {run_id} on {self.address}…")
        with self.translated():
            await stubs.workflows(channel).CancelRun(pb.CancelRunRequest(run_id=run_id))

    async def follow_step_logs(self, run_id: str) -> AsyncIterator[Event]:
        """The ``step.log`` events of run ``run_id``, stored then live, until the run ended
        (at once when it had ended: the stored ones only)."""
        from nestr.workflow.liveness import shown_status

        async with self.channel() as channel:
            record = (await _detail(channel, run_id)).run
            if shown_status(record) not in {"running", "pending"}:
                for event in await _stored(channel, 0, [c.STEP_LOG.name], record.id):
                    yield event
                return
        prefixes = [c.STEP_LOG.name, c.RUN_FINISHED.name]
        events = cast(
            "AsyncGenerator[Event, None]",
            self.follow_events(since=0, type_prefix=prefixes, run=record.id),
        )
        async with contextlib.aclosing(events):
            async for event in events:
                if event.type == c.RUN_FINISHED.name:
                    return
                yield event

    # --- the event log ----------------------------------------------------------------------

    def resume_target(self, run: str) -> RunRecord:
        """The recorded run ``run`` (id or unique prefix) names, to resume."""
        return self.queries.find_run(run)

    def event_oldest(self) -> int:
        """The oldest ``seq`` the server's event log retains (0 if none)."""

        async def call(channel: aio.Channel) -> int:
            request = events_pb.GetEventsRequest(after_seq=0, limit=1)
            return int((await stubs.events(channel).GetEvents(request)).oldest_seq)

        return self.blocking(call)

    def events(
        self, *, since: int = 0, type_prefix: str | None = None, run: str | None = None
    ) -> list[Event]:
        """Stored events after ``since``, oldest first (``run``: an id or a unique prefix)."""

        async def call(channel: aio.Channel) -> list[Event]:
            run_id = (await _detail(channel, run)).run.id if run is not None else ""
            return await _stored(channel, since, _types(type_prefix), run_id)

        return self.blocking(call)

    async def follow_events(
        self,
        *,
        since: int | None = 0,
        type_prefix: str | Sequence[str] | None = None,
        run: str | None = None,
    ) -> AsyncIterator[Event]:
        """Stored events after ``since`` (None: from now on), then live, across
        reconnections to the server (each event once)."""
        async with self.channel() as channel:
            run_id = (await _detail(channel, run)).run.id if run is not None else ""
            head = await _head(channel)  # an unreachable server fails here, not in a retry loop
            after = head if since is None else since
            request = events_pb.SubscribeRequest(
                after_seq=after, types=_types(type_prefix), run_id=run_id
            )
            events = follow(channel, request, address=self.address, notice=self.notice)
            async with contextlib.aclosing(events):
                async for event in events:
                    yield event


class RemoteQueries:
    """The reads of runs the CLI makes (:class:`nestr.workflow.queries.RunQueries`), on the
    server."""

    def __init__(self, remote: RemoteBase) -> None:
        self.remote = remote

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """The newest ``limit`` runs, newest first."""

        async def call(channel: aio.Channel) -> list[RunRecord]:
            request = pb.ListRunsRequest(limit=limit)
            listed = await stubs.workflows(channel).ListRuns(request)
            return [convert.run(r) for r in listed.runs]

        return self.remote.blocking(call)

    def detail(self, run: str) -> RunDetail:
        """A run (id or prefix), its step instances and every attempt."""
        return self.remote.blocking(lambda channel: _detail(channel, run))

    def find_run(self, run: str) -> RunRecord:
        """The run ``run`` (id or unique prefix) names."""
        return self.detail(run).run

    def workflow(self, record: RunRecord) -> Workflow | None:
        """Not sent by the server (its :meth:`graph` is): a face draws the run without it."""
        return None

    def step_keys(self, run_id: str, step: str | None = None) -> set[str]:
        """Instance keys of ``run_id``: all, or those of ``step`` (an id or a key)."""
        from nestr.workflow.queries import select_keys

        detail = self.detail(run_id)
        return select_keys(detail.run.id, [s.key for s in detail.steps], step)

    def step_logs(self, run: str, step: str | None = None) -> StepLogs:
        """Captured output of run ``run`` (id or prefix), of one step (an id or a key) when
        given, and where the logs the server's host cannot read are."""
        from nestr.workflow.steplogs import LogsElsewhere, StepLogs

        async def call(channel: aio.Channel) -> StepLogs:
            request = pb.GetStepLogRequest(run_id=run, step=step or "")
            found = await stubs.workflows(channel).GetStepLog(request)
            elsewhere = [LogsElsewhere(p.host, p.state_dir, tuple(p.keys)) for p in found.elsewhere]
            return StepLogs([convert.log(r) for r in found.logs], elsewhere)

        return self.remote.blocking(call)

    def graph(self, record: RunRecord) -> RunGraph | None:
        """The DAG ``record`` runs, as the server's queries build it (None from a server that
        sends none)."""

        async def call(channel: aio.Channel) -> RunGraph | None:
            found = await stubs.workflows(channel).GetRun(pb.GetRunRequest(run_id=record.id))
            return convert.graph(found.graph)

        return self.remote.blocking(call)

    def failed_tails(self, result: RunResult, lines: int = TAIL_LINES) -> dict[str, str]:
        """The last ``lines`` lines of output of each failed instance of ``result``."""
        failed = [s.key for s in result.steps if s.status == "failed"]

        async def call(channel: aio.Channel) -> dict[str, str]:
            stub = stubs.workflows(channel)
            tails: dict[str, str] = {}
            for key in failed:
                request = pb.GetStepLogRequest(run_id=result.run_id, step=key)
                for record in (await stub.GetStepLog(request)).logs:  # as RunQueries joins them
                    text = (tails.get(key, "") + record.text).rstrip("\n").splitlines()
                    tails[key] = "\n".join(text[-lines:])
            return tails

        return self.remote.blocking(call) if failed else {}


async def _head(channel: aio.Channel) -> int:
    head = await stubs.events(channel).Head(events_pb.HeadRequest())
    return int(head.head_seq)


async def _detail(channel: aio.Channel, run: str) -> RunDetail:
    from nestr.workflow.queries import RunDetail

    found = await stubs.workflows(channel).GetRun(pb.GetRunRequest(run_id=run))
    return RunDetail(
        run=convert.run(found.run),
        steps=[convert.step(s, found.run.id) for s in found.steps],
        attempts=[convert.attempt(a) for a in found.attempts],
    )


async def _stored(channel: aio.Channel, since: int, types: list[str], run_id: str) -> list[Event]:
    """The stored events after ``since`` of ``types`` (prefixes) and run ``run_id`` ("": any),
    page by page."""
    stub = stubs.events(channel)
    found: list[Event] = []
    after, end = since, False
    while not end:
        request = events_pb.GetEventsRequest(
            after_seq=after, limit=PAGE, types=types, run_id=run_id
        )
        page = await stub.GetEvents(request)
        found += [convert.event(m) for m in page.events]
        after, end = page.next_after_seq, page.end
    return found


def _types(prefix: str | Sequence[str] | None) -> list[str]:
    return [prefix] if isinstance(prefix, str) else list(prefix or ())
