"""The operations of a session on workflows and the event log: run, resume, cancel, and
reading or following events."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from nestr.session.audit import asked
from nestr.session.base import SessionBase, load_manifest_file
from nestr.session.targets import RunTarget

if TYPE_CHECKING:
    import asyncio

    from nestr.config.settings import RetentionSettings
    from nestr.events import Event
    from nestr.store.eventintake import Intake
    from nestr.store.eventlog import EventLog
    from nestr.store.eventprune import Pruned
    from nestr.store.eventrows import EventQuery, StoredEvent
    from nestr.store.records import RunRecord
    from nestr.workflow.executor import RunResult
    from nestr.workflow.queries import Cancellation, FailedStep

T = TypeVar("T")  # what a page of the event log holds: events, stored events or seqs


class RunOperations(SessionBase):
    """Run, resume and cancel workflows; read and follow the event log."""

    # --- workflows ------------------------------------------------------------------------

    def run_target(
        self,
        workflow: str,
        *,
        manifest: Path | None = None,
        workspace: Path | None = None,
        variables: Sequence[str] = (),
    ) -> RunTarget:
        """Workflow ``workflow`` of the manifest, its inputs (``NAME=VALUE`` strings) and the
        workspace (if any) it runs in."""
        from nestr.workflow.inputs import parse_vars
        from nestr.workflow.loading import load_workflow
        from nestr.workspace.locate import locate

        given = asked(workflow=workflow, manifest=manifest, workspace=workspace)
        with self.refusals("run.start", given):
            located = locate(
                self.cwd, manifest=manifest, workspace=workspace, workspace_required=False
            )
            loaded = load_manifest_file(located.manifest_path, repos_only=False)
            root = located.workspace.root if located.workspace is not None else None
            values = parse_vars(variables)
            found = load_workflow(loaded, workflow, step_types=self.steps)
            return RunTarget(found, loaded, root, values)

    def resume_target(self, run: str) -> RunRecord:
        """The recorded run ``run`` (id or unique prefix) names, to resume."""
        with self.refusals("run.resume", {"run": run}):
            return self.queries.find_run(run)

    async def run(
        self,
        target: RunTarget,
        *,
        jobs: int | None = None,
        cancel: asyncio.Event | None = None,
        run_id: str | None = None,
        shutdown: asyncio.Event | None = None,
    ) -> RunResult:
        """Record and run the workflow of ``target``; setting ``cancel`` stops it (recorded
        cancelled), setting ``shutdown`` stops it and leaves it to a resume (interrupted).
        ``run_id``: the id to record it under (a face that hands the id out before the run
        ends picks it).

        Its audit record (``run.start``) is written once the run is recorded, not when it ends:
        the run's own record says how it ended."""
        from nestr.workflow.runs import run_workflow

        shown = {"workflow": target.workflow.name, "manifest": str(target.manifest.path)}
        where = {"workspace": None if target.root is None else str(target.root)}
        audit = self.audited("run.start", {**shown, **where})
        with self.action(), audit.recording():
            return await run_workflow(
                target.workflow,
                manifest=target.manifest,
                state_dir=self.settings.state_dir,
                inputs=target.inputs,
                workspace_root=target.root,
                jobs=self._jobs(jobs),
                bus=self.bus,
                cancel=cancel,
                run_id=run_id,
                db=self.db,
                registry=self.steps,
                settings=self.settings,
                shutdown=shutdown,
                started=lambda started: audit.ok(run=started),
            )

    async def resume(
        self,
        run: str,
        *,
        jobs: int | None = None,
        cancel: asyncio.Event | None = None,
        shutdown: asyncio.Event | None = None,
    ) -> RunResult:
        """Continue run ``run`` (id or prefix); steps that succeeded are not run again.
        ``cancel`` and ``shutdown`` as for :meth:`run`. Its audit record (``run.resume``) is
        written once the run is claimed."""
        from nestr.workflow.runs import resume_run

        audit = self.audited("run.resume", {"run": run})
        with self.action(), audit.recording():
            return await resume_run(
                run,
                state_dir=self.settings.state_dir,
                jobs=self._jobs(jobs),
                bus=self.bus,
                cancel=cancel,
                registry=self.steps,
                settings=self.settings,
                shutdown=shutdown,
                started=lambda started: audit.ok(run=started),
            )

    async def retry_step(
        self,
        run: str,
        step: str,
        *,
        jobs: int | None = None,
        cancel: asyncio.Event | None = None,
    ) -> RunResult:
        """Run again the failed instances of ``step`` in the ended run ``run``, and what they
        held back, as new attempts of that run (see ``nestr.workflow.deadletter``). Its audit
        record (``run.retry``) is written once the run is claimed."""
        from nestr.workflow.runs import retry_step

        audit = self.audited("run.retry", {"run": run, "step": step})
        with self.action(), audit.recording():
            return await retry_step(
                run,
                step,
                state_dir=self.settings.state_dir,
                jobs=self._jobs(jobs),
                bus=self.bus,
                cancel=cancel,
                db=self.db,
                registry=self.steps,
                settings=self.settings,
                started=lambda started: audit.ok(run=started),
            )

    def failed_steps(self, run: str | None = None) -> list[FailedStep]:
        """The dead-letter list: failed steps of ended runs (of ``run`` only, when given)."""
        return self.queries.failed_steps(run)

    def cancel(self, run: str) -> Cancellation:
        """Ask run ``run`` to stop (or end it, when the process that ran it died)."""
        audit = self.audited("run.cancel", {"run": run})
        with self.action(), audit.recording():
            done = self.queries.cancel(run)
            audit.ok(run=done.run.id, result=done.outcome)
            return done

    # --- the event log ----------------------------------------------------------------------

    def events(
        self, *, since: int = 0, type_prefix: str | None = None, run: str | None = None
    ) -> list[Event]:
        """Stored events after ``since``, oldest first (``run``: an id or a unique prefix)."""
        run_id = self.queries.find_run(run).id if run is not None else None
        return self._event_log().read(since, type_prefix, run_id)

    def event_page(
        self,
        *,
        after_seq: int,
        limit: int,
        type_prefixes: Sequence[str] = (),
        run_id: str | None = None,
        repo: str | None = None,
    ) -> tuple[list[Event], int, bool]:
        """At most ``limit`` stored events after ``after_seq`` matching the filters (``run_id``
        exact), where the next page starts, and whether this one reached the head."""
        query = _query(after_seq, type_prefixes, run_id, repo, limit=limit)
        return self._page(query, lambda log, q: log.read_events(q), lambda event: event.seq)

    def stored_event_page(
        self,
        *,
        after_seq: int,
        limit: int,
        type_prefixes: Sequence[str] = (),
        run_id: str | None = None,
        repo: str | None = None,
    ) -> tuple[list[StoredEvent], int, bool]:
        """At most ``limit`` stored events after ``after_seq`` matching the filters (``run_id``
        exact), where the next page starts, and whether this one reached the head. The events
        come as the log keeps them, their data JSON text: what a face passing them on needs."""
        query = _query(after_seq, type_prefixes, run_id, repo, limit=limit)
        return self._page(query, lambda log, q: log.read_stored(q), lambda event: event.seq)

    def event_seq_page(
        self,
        *,
        after_seq: int,
        limit: int,
        type_prefixes: Sequence[str] = (),
        run_id: str | None = None,
        repo: str | None = None,
    ) -> tuple[list[int], int, bool]:
        """The seqs of the page :meth:`stored_event_page` returns, read from the log's index alone:
        for a reader that has most events at hand already (then :meth:`stored_events`)."""
        query = _query(after_seq, type_prefixes, run_id, repo, limit=limit)
        return self._page(query, lambda log, q: log.read_seqs(q), lambda seq: seq)

    def _page(
        self,
        query: EventQuery,
        read: Callable[[EventLog, EventQuery], list[T]],
        seq: Callable[[T], int | None],
    ) -> tuple[list[T], int, bool]:
        """The page ``read`` gives for ``query`` up to the log's head as it is now, where the
        next page starts, and whether this one reached the head (a full page may have more
        after it): what the ``*_page`` methods share."""
        log = self._event_log()
        head = log.head()
        page = read(log, replace(query, until_seq=head))
        after = query.since_seq
        last = (seq(page[-1]) or after) if page else after
        if len(page) == query.limit and last < head:
            return page, last, False
        return page, max(head, after), True

    def stored_events(
        self,
        *,
        after_seq: int,
        until_seq: int,
        type_prefixes: Sequence[str] = (),
        run_id: str | None = None,
        repo: str | None = None,
    ) -> list[StoredEvent]:
        """The stored events with ``after_seq < seq <= until_seq`` matching the filters, as the
        log keeps them."""
        query = _query(after_seq, type_prefixes, run_id, repo, until_seq=until_seq)
        return self._event_log().read_stored(query)

    def event_head(self) -> int:
        """The last ``seq`` appended to the event log (0 if none)."""
        return self._event_log().head()

    def event_oldest(self) -> int:
        """The oldest ``seq`` the event log retains (0 if none): the ones below were pruned
        (``events.retention``)."""
        return self._event_log().oldest()

    def receive_events(self, events: Sequence[Event]) -> Intake:
        """Append events another process made (a Temporal worker's), each once by its id, in
        one transaction: they get this log's seqs and reach its followers like any other."""
        from nestr.store.eventintake import receive_events

        return receive_events(self.db, events)

    def prune_events(self, retention: RetentionSettings | None = None) -> Pruned:
        """Delete the events ``retention`` (default: ``events.retention``) no longer keeps,
        oldest first, through a connection of its own (so a long-lived face can run it off its
        event loop's thread)."""
        from nestr.store.eventlog import open_event_log

        retention = retention or self.settings.events.retention
        log = open_event_log(self.settings.state_dir)
        try:
            return log.prune(max_age=retention.max_age, max_events=retention.max_events)
        finally:
            log.close()

    async def follow_step_logs(self, run_id: str) -> AsyncIterator[Event]:
        """The ``step.log`` events of run ``run_id``, stored then live, until the run ended
        (interrupted included: nothing more comes)."""
        from nestr.events.catalog import STEP_LOG
        from nestr.workflow.liveness import shown_status

        def over() -> bool:
            return shown_status(self.queries.run(run_id)) not in {"running", "pending"}

        events = cast(
            "AsyncGenerator[Event, None]",
            self.follow_events(type_prefix=STEP_LOG.name, run_id=run_id, stop=over),
        )
        async with contextlib.aclosing(events):
            async for event in events:
                yield event

    async def follow_events(
        self,
        *,
        since: int | None = 0,
        type_prefix: str | Sequence[str] | None = None,
        run: str | None = None,
        run_id: str | None = None,
        repo: str | None = None,
        stop: Callable[[], bool] | None = None,
        poll: float | None = None,
    ) -> AsyncIterator[Event]:
        """Stored events after ``since`` (None: from now on), then new ones as this session's
        bus or any other process appends them; ends when ``stop()`` is true or the consumer
        stops (see :meth:`nestr.store.eventlog.EventLog.follow`). ``run`` is an id or a unique
        prefix of a recorded run; ``run_id`` an exact id, recorded yet or not; ``poll``: seconds
        between checks for other processes' commits (default: the log's)."""
        from nestr.store.eventlog import DEFAULT_POLL, open_event_log

        if run is not None:
            run_id = self.queries.find_run(run).id
        prefixes = [type_prefix] if isinstance(type_prefix, str) else list(type_prefix or ())
        # a log of its own: a connection sees only other connections' commits
        log = open_event_log(self.settings.state_dir)
        try:
            async for event in log.follow(
                since,
                bus=self._bus,
                type_prefixes=prefixes,
                run_id=run_id,
                repo=repo,
                stop=stop,
                poll_interval=DEFAULT_POLL if poll is None else poll,
            ):
                yield event
        finally:
            log.close()


def _query(
    after_seq: int,
    type_prefixes: Sequence[str],
    run_id: str | None,
    repo: str | None,
    *,
    until_seq: int | None = None,
    limit: int | None = None,
) -> EventQuery:
    """The log's query for the events after ``after_seq`` matching the filters."""
    from nestr.store.eventrows import EventQuery

    return EventQuery(after_seq, tuple(type_prefixes), run_id, repo, until_seq, limit)
