"""The operations the CLI's commands call on a session, local or remote.

:class:`nestr.session.Session` (this machine) and :class:`nestr.client.remote.RemoteSession`
(a server, ``--server``) both provide them and return the same library values, so a command
renders either without knowing which it has. mypy checks both against :class:`Nestr` where
``nestr.cli.context.session`` returns them.

Targets are opaque: each kind of session resolves its own (a local one loads the manifest, a
remote one leaves that to the server) and takes back only what it handed out; commands read no
more of them than ``len(target.repos)`` (assemble) and ``target.workflow`` (run, may be None).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nestr.events import Event, EventBus
    from nestr.sync import ApplyOptions, SyncPlan, SyncResult
    from nestr.sync.status import RepoStatus as SyncRepoStatus
    from nestr.workflow.executor import RunResult
    from nestr.workflow.model import Workflow
    from nestr.workflow.queries import (
        Cancellation,
        FailedStep,
        RunDetail,
        RunRecord,
    )
    from nestr.workflow.steplogs import StepLogs
    from nestr.workspace.locking import LockResult
    from nestr.workspace.removal import Removal
    from nestr.workspace.results import AssemblyResult
    from nestr.workspace.status import WorkspaceStatus


class Queries(Protocol):
    """Reads of recorded runs."""

    def runs(self, limit: int = 50) -> list[RunRecord]: ...
    def find_run(self, run: str) -> RunRecord: ...
    def detail(self, run: str) -> RunDetail: ...
    def workflow(self, record: RunRecord) -> Workflow | None: ...
    def failed_tails(self, result: RunResult, lines: int = ...) -> dict[str, str]: ...
    def step_keys(self, run_id: str, step: str | None = ...) -> set[str]: ...
    def step_logs(self, run: str, step: str | None = ...) -> StepLogs: ...


class Nestr(Protocol):
    """What ``assemble``, ``lock``, ``status``, ``sync``, ``run``, ``runs``, ``events`` and
    ``workspace list|rm`` call."""

    @property
    def bus(self) -> EventBus:
        """Where the events of the operation in progress are published (progress views)."""
        ...

    @property
    def queries(self) -> Queries: ...

    def target(
        self,
        *,
        manifest: Path | None = ...,
        workspace: Path | None = ...,
        groups: Sequence[str] = ...,
        names: Sequence[str] = ...,
        repos_only: bool = ...,
        action: str | None = ...,
    ) -> Any: ...
    def status(self, target: Any, *, jobs: int | None = ...) -> WorkspaceStatus: ...
    async def lock(
        self, *, manifest: Path | None = ..., jobs: int | None = ..., offline: bool = ...
    ) -> LockResult: ...
    def assembly_target(
        self,
        *,
        manifest: Path | None = ...,
        workspace: Path | None = ...,
        ephemeral: bool = ...,
        groups: Sequence[str] = ...,
        names: Sequence[str] = ...,
    ) -> Any: ...
    async def assemble(
        self,
        target: Any,
        *,
        jobs: int | None = ...,
        locked: bool = ...,
        offline: bool = ...,
        dissociate: bool = ...,
        stash: bool = ...,
        force: bool = ...,
        ttl: timedelta | None = ...,
    ) -> AssemblyResult: ...
    async def sync_plan(
        self, target: Any, *, adopt: bool = ..., jobs: int | None = ...
    ) -> SyncPlan: ...
    async def sync_apply(
        self, target: Any, *, options: ApplyOptions, adopt: bool = ..., jobs: int | None = ...
    ) -> SyncResult: ...
    def sync_status(self, target: Any) -> list[SyncRepoStatus]: ...
    def run_target(
        self,
        workflow: str,
        *,
        manifest: Path | None = ...,
        workspace: Path | None = ...,
        variables: Sequence[str] = ...,
    ) -> Any: ...
    async def run(
        self, target: Any, *, jobs: int | None = ..., cancel: asyncio.Event | None = ...
    ) -> RunResult: ...
    async def resume(
        self, run: str, *, jobs: int | None = ..., cancel: asyncio.Event | None = ...
    ) -> RunResult: ...
    async def retry_step(
        self, run: str, step: str, *, jobs: int | None = ..., cancel: asyncio.Event | None = ...
    ) -> RunResult: ...
    def failed_steps(self, run: str | None = ...) -> list[FailedStep]: ...
    def follow_step_logs(self, run_id: str) -> AsyncIterator[Event]: ...
    def listed_workspaces(self) -> list[dict[str, Any]]: ...
    async def remove_workspace(self, workspace: str, *, force: bool = ...) -> Removal: ...
    def resume_target(self, run: str) -> RunRecord: ...
    def cancel(self, run: str) -> Cancellation: ...
    def event_oldest(self) -> int: ...
    def events(
        self, *, since: int = ..., type_prefix: str | None = ..., run: str | None = ...
    ) -> list[Event]: ...
    def follow_events(
        self,
        *,
        since: int | None = ...,
        type_prefix: str | Sequence[str] | None = ...,
        run: str | None = ...,
    ) -> AsyncIterator[Event]: ...
    def close(self) -> None: ...
