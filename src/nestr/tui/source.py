"""Where the TUI reads from: this machine's store, or a nestr server.

Both kinds wrap a session (:class:`nestr.session.Session` or
:class:`nestr.client.remote.RemoteSession`) and give the app the same few things: the event
stream from a cursor (replayed, then live, across reconnections), the head ``seq`` for the lag,
the query APIs for history, and the actions (cancel; resume/re-run). The synchronous calls
block (SQLite, or a gRPC call on a loop of its own): the app runs them in worker threads, never
on its event loop.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grpc import aio

    from nestr.client.remote import RemoteSession
    from nestr.config.settings import Settings
    from nestr.events import Event
    from nestr.session import Session
    from nestr.sync import SyncPlan
    from nestr.workflow.queries import Cancellation, RunDetail, RunRecord
    from nestr.workflow.rungraph import RunGraph
    from nestr.workspace.status import WorkspaceStatus


class Source:
    """The common part: what the app asks, whatever answers it."""

    where = ""  # "local PATH" or "server ADDR", for the status line
    connected = True  # False while a remote stream is being re-established

    def __init__(self, nestr: Session | RemoteSession, argv_prefix: list[str]) -> None:
        self.nestr = nestr
        self._argv = argv_prefix  # `nestr [--server ADDR]` for actions started as processes
        self.on_notice: Callable[[str], None] = lambda _text: None  # what the link went through

    def follow(self, since: int) -> AsyncIterator[Event]:
        """Events after ``since``, then live; each once, in ``seq`` order."""
        return self.nestr.follow_events(since=since)

    def head(self) -> int:
        raise NotImplementedError

    def runs(self, limit: int) -> list[RunRecord]:
        return self.nestr.queries.runs(limit)

    def runs_soon(self, limit: int) -> Future[list[RunRecord]]:
        """The newest ``limit`` runs, read from now on in a thread of its own: the app asks
        for its first page when it is made, so the page is there when its first frame is."""
        future: Future[list[RunRecord]] = Future()

        def read() -> None:
            try:
                future.set_result(self.runs(limit))
            except BaseException as error:  # handed to whoever waits for the page
                future.set_exception(error)

        threading.Thread(target=read, name="nestr-ui-runs", daemon=True).start()
        return future

    def correlations(self, run_ids: list[str]) -> dict[str, str]:
        """The correlation id of each run (its ``run.started`` event's), where known."""
        return {}

    def detail(self, run_id: str) -> RunDetail:
        return self.nestr.queries.detail(run_id)

    def graph(self, record: RunRecord) -> RunGraph | None:
        """The DAG the run runs (layers, fan-out, retry policies), from the store's or the
        server's run queries alike."""
        return self.nestr.queries.graph(record)

    def log(self, run_id: str, key: str) -> str:
        """What step instance ``key`` printed so far (every attempt)."""
        raise NotImplementedError

    def status(self) -> WorkspaceStatus:
        """The status of the workspace of the working directory (or the server's)."""
        raise NotImplementedError

    def conflict_diffs(self, repo: str) -> dict[str, str]:
        """The diff (with conflict markers) of each file a sync of ``repo`` would leave in
        conflict now, planned afresh (planning writes nothing)."""
        from nestr.sync.planner import Action

        plan = asyncio.run(self._plan(repo))
        found = (f for r in plan.repos for f in r.files if f.action is Action.CONFLICT)
        return {f.path: f.diff() for f in found}

    async def _plan(self, repo: str) -> SyncPlan:
        raise NotImplementedError

    @staticmethod
    def _whole(nestr: Session | RemoteSession, repo: str) -> Any:
        """The workspace's target for ``repo`` with the whole manifest: its sync rules too."""
        return nestr.target(names=[repo], repos_only=False)

    def cancel(self, run_id: str) -> Cancellation:
        return self.nestr.cancel(run_id)

    def resume(self, run_id: str, log: Path) -> int:
        """Start ``nestr runs resume RUN`` as a process of its own, in a session of its own
        (its output to ``log``), so the run never depends on this UI staying open; returns
        its pid. A thread reaps it when it ends, should the UI still run then."""
        argv = [*self._argv, "runs", "resume", run_id]
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        pid = os.posix_spawn(
            argv[0],
            argv,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, str(log), flags, 0o600),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
        )
        threading.Thread(target=os.waitpid, args=(pid, 0), daemon=True).start()
        return pid

    def close(self) -> None:
        self.nestr.close()


class LocalSource(Source):
    """This machine's store: follows the event log's file as other processes append."""

    def __init__(self, session: Session) -> None:
        super().__init__(session, [sys.executable, "-m", "nestr", "-C", str(session.cwd)])
        self.session = session
        self.where = f"local {session.settings.state_dir / 'nestr.db'}"

    def head(self) -> int:
        return self.session.event_head()

    def correlations(self, run_ids: list[str]) -> dict[str, str]:
        from nestr.events.catalog import RUN_STARTED

        found: dict[str, str] = {}
        for run_id in run_ids:  # one indexed read each (events by run, seq)
            page, _, _ = self.session.event_page(
                after_seq=0, limit=1, type_prefixes=[RUN_STARTED.name], run_id=run_id
            )
            if page and page[0].correlation_id:
                found[run_id] = page[0].correlation_id
        return found

    def log(self, run_id: str, key: str) -> str:
        return "".join(r.text for r in self.session.queries.logs(run_id, [key]))

    def status(self) -> WorkspaceStatus:
        return self.session.status(self.session.target())

    async def _plan(self, repo: str) -> SyncPlan:
        return await self.session.sync_plan(self._whole(self.session, repo))


class RemoteSource(Source):
    """A nestr server: ``Subscribe`` resumes from its cursor after a disconnect or an overflow
    (:mod:`nestr.client.follow`); the header shows "reconnecting" meanwhile."""

    def __init__(self, settings: Settings, address: str, cwd: Path) -> None:
        from nestr.client.remote import RemoteSession

        self.remote = RemoteSession(settings, address=address, notice=self._notice)
        argv = [sys.executable, "-m", "nestr", "-C", str(cwd), "--server", address]
        super().__init__(self.remote, argv)
        self.where = f"server {address}"

    def _notice(self, text: str) -> None:
        self.connected = "reconnecting" not in text
        self.on_notice(text)

    def head(self) -> int:
        from nestr.client import stubs
        from nestr.server._proto import events_pb2

        async def call(channel: aio.Channel) -> int:
            reply = await stubs.events(channel).Head(events_pb2.HeadRequest())
            return int(reply.head_seq)

        return self.remote.blocking(call)

    def status(self) -> WorkspaceStatus:
        return self.remote.status(self.remote.target())

    async def _plan(self, repo: str) -> SyncPlan:
        return await self.remote.sync_plan(self._whole(self.remote, repo))

    def log(self, run_id: str, key: str) -> str:
        from nestr.client import stubs
        from nestr.server._proto import workflow_pb2

        async def call(channel: aio.Channel) -> str:
            request = workflow_pb2.GetStepLogRequest(run_id=run_id, step=key)
            reply = await stubs.workflows(channel).GetStepLog(request)
            return "".join(str(r.text) for r in reply.logs)

        return self.remote.blocking(call)
