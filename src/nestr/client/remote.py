"""A session on a nestr server: the operations the CLI's commands call on
:class:`nestr.session.Session`, sent over gRPC and returning the library's own values.

Targets are resolved by the server (its files, its working directory), so a remote target only
carries what the command line asked for; the server's answer or the operation's events fill in
the rest. Long operations (assemble, run) return at once on the server: the remote session
follows their events on the stream, publishes them on its local bus for the face's progress
views, and builds the result from them, so ``nestr assemble --server`` prints what a local
assembly prints.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from grpc import aio

from nestr.client import convert, stubs
from nestr.client.base import sent_path
from nestr.client.follow import follow
from nestr.client.runs import RemoteRuns
from nestr.errors import UsageError
from nestr.events import Event
from nestr.events import catalog as c
from nestr.server._proto import events_pb2 as events_pb
from nestr.server._proto import sync_pb2 as sync_pb
from nestr.server._proto import workspace_pb2 as ws_pb

if TYPE_CHECKING:
    from nestr.sync import ApplyOptions, SyncPlan, SyncResult
    from nestr.sync.status import RepoStatus as SyncRepoStatus
    from nestr.workspace.locking import LockResult
    from nestr.workspace.removal import Removal
    from nestr.workspace.results import AssemblyResult, RepoResult
    from nestr.workspace.status import WorkspaceStatus


@dataclass(frozen=True)
class Selection:
    """A workspace and repos as the command line names them; the server resolves them."""

    manifest: str = ""
    workspace: str = ""
    groups: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class AssemblySelection(Selection):
    """What to assemble; ``repos`` stays empty: the server selects them when it starts."""

    ephemeral: bool = False
    repos: list[str] = field(default_factory=list)


class RemoteSession(RemoteRuns):
    """The operations of :class:`nestr.session.Session` the CLI offers through ``--server``."""

    # --- workspaces -----------------------------------------------------------------------

    def target(
        self,
        *,
        manifest: Path | None = None,
        workspace: Path | None = None,
        groups: Sequence[str] = (),
        names: Sequence[str] = (),
        repos_only: bool = True,
        action: str | None = None,
    ) -> Selection:
        """The selection a workspace operation sends (the server loads the manifest and
        audits the ``action``)."""
        return Selection(sent_path(manifest), sent_path(workspace), tuple(groups), tuple(names))

    def status(self, target: Selection, *, jobs: int | None = None) -> WorkspaceStatus:
        """``nestr status`` on the server's machine."""

        async def call(channel: aio.Channel) -> WorkspaceStatus:
            request = ws_pb.StatusRequest(
                manifest=target.manifest,
                workspace=target.workspace,
                groups=target.groups,
                repos=target.names,
                jobs=jobs or 0,
            )
            return convert.status(await stubs.workspaces(channel).Status(request))

        return self.blocking(call)

    async def lock(
        self, *, manifest: Path | None = None, jobs: int | None = None, offline: bool = False
    ) -> LockResult:
        """``nestr lock`` of a manifest on the server's machine."""
        request = ws_pb.LockRequest(manifest=sent_path(manifest), jobs=jobs or 0, offline=offline)
        async with self.channel() as channel:
            return convert.lock(await stubs.workspaces(channel).Lock(request))

    def assembly_target(
        self,
        *,
        manifest: Path | None = None,
        workspace: Path | None = None,
        ephemeral: bool = False,
        groups: Sequence[str] = (),
        names: Sequence[str] = (),
    ) -> AssemblySelection:
        """What ``assemble`` asks the server for."""
        return AssemblySelection(
            sent_path(manifest), sent_path(workspace), tuple(groups), tuple(names), ephemeral
        )

    async def assemble(
        self,
        target: AssemblySelection,
        *,
        jobs: int | None = None,
        locked: bool = False,
        offline: bool = False,
        dissociate: bool = False,
        stash: bool = False,
        force: bool = False,
        ttl: timedelta | None = None,
    ) -> AssemblyResult:
        """Start the assembly on the server and follow it to its end."""
        request = ws_pb.AssembleRequest(
            manifest=target.manifest,
            workspace=target.workspace,
            groups=target.groups,
            repos=target.names,
            locked=locked,
            offline=offline,
            jobs=jobs or 0,
            dissociate=dissociate,
            stash=stash,
            force=force,
            ephemeral=target.ephemeral,
            ttl_seconds=int(ttl.total_seconds()) if ttl is not None else 0,
        )
        async with self.channel() as channel:
            head = await stubs.events(channel).Head(events_pb.HeadRequest())
            started = await stubs.workspaces(channel).Assemble(request)
            watch = events_pb.SubscribeRequest(after_seq=head.head_seq, types=["nestr.workspace."])
            events = follow(channel, watch, address=self.address, notice=self.notice)
            async with contextlib.aclosing(events):  # the stream ends with the assembly
                return await _assembly(
                    events, started, self.bus.publish, locked=locked, ephemeral=target.ephemeral
                )

    # --- sync -----------------------------------------------------------------------------

    async def sync_plan(
        self, target: Selection, *, adopt: bool = False, jobs: int | None = None
    ) -> SyncPlan:
        """``nestr sync plan`` on the server's machine (with each change's diff)."""
        request = sync_pb.PlanRequest(selection=_sync_selection(target, adopt, jobs), diff=True)
        async with self.channel() as channel:
            return convert.sync_plan(await stubs.sync(channel).Plan(request))

    async def sync_apply(
        self,
        target: Selection,
        *,
        options: ApplyOptions,
        adopt: bool = False,
        jobs: int | None = None,
    ) -> SyncResult:
        """``nestr sync apply`` on the server's machine."""
        request = sync_pb.ApplyRequest(
            selection=_sync_selection(target, adopt, jobs),
            commit=options.commit,
            branch=options.branch or "",
            message=options.message,
            push=options.push,
            conflicts=str(options.conflicts),
        )
        async with self.channel() as channel:
            return convert.sync_result(await stubs.sync(channel).Apply(request))

    def listed_workspaces(self) -> list[dict[str, Any]]:
        """The rows of ``nestr workspace list --json`` of the server's machine."""

        async def call(channel: aio.Channel) -> list[dict[str, Any]]:
            request = ws_pb.ListWorkspacesRequest()
            listed = await stubs.workspaces(channel).ListWorkspaces(request)
            return [convert.workspace_row(w) for w in listed.workspaces]

        return self.blocking(call)

    async def remove_workspace(self, workspace: str, *, force: bool = False) -> Removal:
        """Remove a workspace of the server's machine (id, or a path there). One holding
        local work is refused with the server's error (the reasons, exit 1), not returned."""
        from nestr.workspace.removal import Removal

        request = ws_pb.RemoveWorkspaceRequest(workspace=workspace, force=force)
        async with self.channel() as channel:
            removed = await stubs.workspaces(channel).RemoveWorkspace(request)
        return Removal(removed.id, removed.root, removed=True)

    def sync_status(self, target: Selection) -> list[SyncRepoStatus]:
        """Not offered by the server yet."""
        raise UsageError(
            "`nestr sync status` works on this machine only and has no --server form "
            "(the server offers sync plan and apply)",
            hint="`nestr sync plan` shows what changed; or run sync status on the server's machine",
        )


def _sync_selection(target: Selection, adopt: bool, jobs: int | None) -> sync_pb.SyncSelection:
    return sync_pb.SyncSelection(
        workspace=target.workspace,
        manifest=target.manifest,
        repos=target.names,
        groups=target.groups,
        adopt=adopt,
        jobs=jobs or 0,
    )


async def _assembly(
    events: AsyncIterator[Event],
    started: ws_pb.AssembleResponse,
    publish: Callable[[Event], Event],
    *,
    locked: bool,
    ephemeral: bool,
) -> AssemblyResult:
    """The result of the assembly ``started``, built from its events while they are published.

    It ends with ``assembly.finished``; a new ephemeral workspace in which no repo could be
    assembled is then removed, and ``assembly.discarded`` (which also ends an aborted one)
    follows.
    """
    repos: dict[str, RepoResult] = {}
    finished: Event | None = None
    async for event in events:
        if event.correlation_id != started.correlation_id:
            continue
        publish(event)
        if event.type in c.REPO_ENDED:
            repos[event.repo or ""] = _repo_result(event)
        elif event.type == c.ASSEMBLY_DISCARDED.name:
            return _result(started, repos, finished, locked=locked, discarded=True)
        elif event.type == c.ASSEMBLY_FINISHED.name:
            finished = event
            emptied = ephemeral and repos and not any(r.ok for r in repos.values())
            if not emptied:
                break
    return _result(started, repos, finished, locked=locked, discarded=False)


def _result(
    started: ws_pb.AssembleResponse,
    repos: dict[str, RepoResult],
    finished: Event | None,
    *,
    locked: bool,
    discarded: bool,
) -> AssemblyResult:
    """What the CLI prints: the repos in manifest order, the workspace and the time taken
    (the workspace's id and manifest path are not on the stream: left empty)."""
    from nestr.workspace.results import AssemblyResult

    seconds = c.ASSEMBLY_FINISHED.data_of(finished)["seconds"] if finished is not None else 0.0
    order = [repos[name] for name in started.repos if name in repos]
    return AssemblyResult(
        workspace=started.workspace,
        workspace_id="",
        manifest="",
        locked=locked,
        repos=tuple(order),
        seconds=seconds,
        discarded=discarded,
    )


def _repo_result(event: Event) -> RepoResult:
    from nestr.workspace.results import RepoResult

    outcome = c.REPO_CHECKED_OUT.data_of(event)
    return RepoResult(
        name=outcome["name"],
        path=outcome["path"],
        status=cast("Any", outcome["status"]),
        revision=outcome["revision"],
        commit=outcome["commit"],
        previous=outcome["previous"],
        message=outcome["message"],
        hint=outcome["hint"],
        stash=outcome["stash"],
        fetched=outcome["fetched"],
        seconds=outcome["seconds"],
    )
