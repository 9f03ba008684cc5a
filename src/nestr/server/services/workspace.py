"""``nestr.v1.WorkspaceService``: assemble, lock, inspect, list and remove workspaces over gRPC.

Assembling returns at once: the assembly becomes a task of the server's event loop and its
progress is the event stream. Its events carry the call's correlation id, which the response
returns; ``EventService.Subscribe`` filters by type prefix (``nestr.workspace.``), and the
client keeps the events carrying that id. Bad input is still the call's error: the manifest is
loaded and the repos selected before the task starts, and the task's first step (the lock file
of ``locked``, the options) runs before the call returns — see :meth:`WorkspaceService._launch`.

Every call acts in its own correlation (:func:`~nestr.server.acting.acting_session`), so the
events of a lock or a removal name the call too. Errors map to statuses through
:mod:`nestr.server.errors`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nestr.observability.logging import get_logger
from nestr.server._proto import workspace_pb2 as pb
from nestr.server._proto import workspace_pb2_grpc as pb_grpc
from nestr.server.acting import acting_session
from nestr.server.errors import Context, Refused, mapped

if TYPE_CHECKING:
    from nestr.session import Session
    from nestr.workspace.locking import LockResult
    from nestr.workspace.registry import RegistryEntry
    from nestr.workspace.results import AssemblyResult
    from nestr.workspace.status import RepoStatus, WorkspaceStatus

log = get_logger("nestr.server")


class WorkspaceService(pb_grpc.WorkspaceServiceServicer):
    """Workspaces of ``session``'s machine; ``active`` holds the assemblies going on."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.active: set[asyncio.Task[AssemblyResult]] = set()

    @mapped
    async def Assemble(self, request: pb.AssembleRequest, context: Context) -> pb.AssembleResponse:
        session = acting_session(self.session)
        target = session.assembly_target(
            manifest=self._path(request.manifest),
            workspace=self._path(request.workspace),
            ephemeral=request.ephemeral,
            groups=list(request.groups),
            names=list(request.repos),
        )
        work = session.assemble(
            target,
            jobs=request.jobs or None,
            locked=request.locked,
            offline=request.offline,
            dissociate=request.dissociate,
            stash=request.stash,
            force=request.force,
            ttl=timedelta(seconds=request.ttl_seconds) if request.ttl_seconds else None,
        )
        await self._launch(session.correlation_id, work)
        return pb.AssembleResponse(
            correlation_id=session.correlation_id,
            workspace=str(target.root),
            repos=[repo.name for repo in target.repos],
        )

    @mapped
    async def Lock(self, request: pb.LockRequest, context: Context) -> pb.LockResponse:
        result = await acting_session(self.session).lock(
            manifest=self._path(request.manifest),
            jobs=request.jobs or None,
            offline=request.offline,
        )
        return lock_message(result)

    @mapped
    async def Status(self, request: pb.StatusRequest, context: Context) -> pb.StatusResponse:
        session = acting_session(self.session)

        def read() -> WorkspaceStatus:  # blocking git processes: off the server's loop
            target = session.target(
                manifest=self._path(request.manifest),
                workspace=self._path(request.workspace),
                groups=list(request.groups),
                names=list(request.repos),
            )
            return session.status(target, jobs=request.jobs or None)

        return status_message(await asyncio.to_thread(read))

    @mapped
    async def ListWorkspaces(
        self, request: pb.ListWorkspacesRequest, context: Context
    ) -> pb.ListWorkspacesResponse:
        now = datetime.now(UTC)
        entries = self.session.workspaces()
        return pb.ListWorkspacesResponse(workspaces=[workspace_message(e, now) for e in entries])

    @mapped
    async def RemoveWorkspace(
        self, request: pb.RemoveWorkspaceRequest, context: Context
    ) -> pb.RemoveWorkspaceResponse:
        removal = await acting_session(self.session).remove_workspace(
            request.workspace, force=request.force
        )
        if not removal.removed:  # the words `nestr workspace rm` prints
            reasons = "".join(f"\n  {reason}" for reason in removal.reasons)
            raise Refused(
                f"kept {removal.root}: it holds local work{reasons}",
                hint="push or commit it, or pass force",
            )
        return pb.RemoveWorkspaceResponse(id=removal.id, root=removal.root, removed=True)

    async def close(self) -> None:
        """Cancel the assemblies still going and wait until they ended (their git processes
        are gone). Called when the server stops, before the session's store closes."""
        tasks = list(self.active)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _launch(self, cid: str, work: Coroutine[Any, Any, AssemblyResult]) -> None:
        """Start ``work`` as a task and return once its first step ran (or raise its error).

        As :meth:`nestr.server.services.workflow.WorkflowService._launch`: a new task's first
        step runs before this coroutine resumes from ``sleep(0)``, up to the assembly's first
        real wait, so an option or a lock file it refuses is this call's error.
        """
        task = asyncio.create_task(work, name=f"nestr assemble {cid}")
        await asyncio.sleep(0)
        if task.done():
            task.result()  # raises what starting the assembly raised
        self.active.add(task)
        task.add_done_callback(lambda done: self._ended(cid, done))

    def _ended(self, cid: str, task: asyncio.Task[AssemblyResult]) -> None:
        self.active.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("assembly ended with an error", correlation_id=cid, exc_info=error)

    def _path(self, text: str) -> Path | None:
        """A path a client gave, on this machine; relative: to the server's directory."""
        return self.session.cwd / text if text else None


def lock_message(result: LockResult) -> pb.LockResponse:
    """The protobuf form of ``nestr lock --json``."""
    return pb.LockResponse(
        path=str(result.path),
        ok=result.ok,
        written=result.written,
        manifest_hash=result.lock.manifest_hash,
        seconds=round(result.seconds, 3),
        repos=[
            pb.LockedRepo(name=name, url=r.url, revision=r.revision, commit=r.commit)
            for name, r in sorted(result.lock.repos.items())
        ],
        failures=[
            pb.LockFailure(name=f.name, revision=f.revision, message=f.message, hint=f.hint)
            for f in result.failures
        ],
    )


def status_message(report: WorkspaceStatus) -> pb.StatusResponse:
    """The protobuf form of ``nestr status --json``."""
    return pb.StatusResponse(
        workspace=str(report.root),
        manifest=str(report.manifest),
        lock_file=str(report.lock_file) if report.lock_file else None,
        repos=[_repo_message(r) for r in report.repos],
        ok=report.ok,
    )


def _repo_message(repo: RepoStatus) -> pb.StatusRepo:
    shown = repo.to_dict()
    changes, lock = shown["changes"], shown["lock"]
    return pb.StatusRepo(
        name=shown["name"],
        path=shown["path"],
        revision=shown["revision"],
        state=shown["state"],
        error=shown["error"],
        branch=shown["branch"],
        detached=shown["detached"],
        commit=shown["commit"],
        upstream=shown["upstream"],
        ahead=shown["ahead"],
        behind=shown["behind"],
        changes=None if changes is None else pb.StatusChanges(**changes),
        dirty=shown["dirty"],
        lock=None if lock is None else pb.StatusLock(commit=lock["commit"], state=lock["state"]),
    )


def workspace_message(entry: RegistryEntry, now: datetime) -> pb.RegisteredWorkspace:
    """The protobuf form of a row of ``nestr workspace list --json``."""
    return pb.RegisteredWorkspace(**entry.listed(now))
