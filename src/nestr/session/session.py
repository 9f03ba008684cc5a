"""The session: settings, store, durable event bus and correlation id, and the operations.

Every face builds one :class:`Session` from the loaded config and calls its operations with
explicit keyword arguments; the session finds the manifest and workspace (one rule,
:mod:`nestr.workspace.locate`), runs the operation inside the action's correlation, publishes
its events on a bus over the durable log, and returns the library's result for the face to
render. It never prints.

The store and the bus are opened on first use, so an action that emits nothing (``status``,
``runs list``) never pays for the event log, and once, so a long-lived face (the server) keeps
one connection. :meth:`Session.close` (or ``with``) closes them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from nestr.observability.context import correlation
from nestr.session.targets import AssemblyTarget, RunTarget, Target

if TYPE_CHECKING:
    import asyncio

    from nestr.config.loader import LoadedConfig
    from nestr.config.settings import Settings
    from nestr.events import Event, EventBus
    from nestr.events.log import EventLog
    from nestr.git.mirror import MirrorCache
    from nestr.manifest.importers.westimports import ProjectFiles
    from nestr.manifest.model import Manifest
    from nestr.store.db import Database
    from nestr.sync import ApplyOptions, SyncPlan, SyncResult
    from nestr.sync.status import RepoStatus as SyncRepoStatus
    from nestr.workflow.executor import RunResult
    from nestr.workflow.queries import Cancellation, RunQueries
    from nestr.workspace.cache_usage import MirrorRemoval
    from nestr.workspace.foreach import ForeachReport
    from nestr.workspace.locking import LockResult
    from nestr.workspace.removal import Removal
    from nestr.workspace.results import AssemblyResult
    from nestr.workspace.status import WorkspaceStatus

# Types of the events the session publishes itself (the other operations' events come from
# their libraries). Plain strings in one place, to be taken from the event catalogue.
WORKSPACE_REMOVED = "nestr.workspace.removed"
WORKSPACE_GC_FINISHED = "nestr.workspace.gc.finished"
CACHE_GC_FINISHED = "nestr.cache.gc.finished"


class Session:
    """One face's connection to nestr: settings, lazily opened store and durable bus."""

    def __init__(self, settings: Settings, *, cwd: Path, correlation_id: str | None = None) -> None:
        self.settings = settings
        self.cwd = cwd
        with correlation(correlation_id) as cid:  # given, else the action's, else a new one
            self.correlation_id = cid
        self._log: EventLog | None = None
        self._bus: EventBus | None = None

    @classmethod
    def from_config(
        cls, config: LoadedConfig, *, cwd: Path, correlation_id: str | None = None
    ) -> Session:
        """A session over the settings of ``config``."""
        return cls(config.settings, cwd=cwd, correlation_id=correlation_id)

    # --- resources ----------------------------------------------------------------------

    @property
    def bus(self) -> EventBus:
        """The bus whose events are appended to the durable log before anyone sees them."""
        if self._bus is None:
            from nestr.events import EventBus

            self._bus = EventBus(sink=self._event_log())
        return self._bus

    @property
    def db(self) -> Database:
        """The store of the state dir (opened on first use, shared with the event log)."""
        return self._event_log().db

    def _event_log(self) -> EventLog:
        if self._log is None:
            from nestr.events.log import open_event_log

            self._log = open_event_log(self.settings.state_dir)
        return self._log

    @property
    def queries(self) -> RunQueries:
        """Reads of runs, steps and their output."""
        from nestr.workflow.queries import RunQueries

        return RunQueries(self.db)

    def close(self) -> None:
        """Close the store, if it was opened."""
        if self._log is not None:
            self._log.close()
            self._log, self._bus = None, None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def action(self) -> contextlib.AbstractContextManager[str]:
        """The correlation every operation of this session runs in."""
        return correlation(self.correlation_id)

    def _jobs(self, jobs: int | None) -> int:
        return jobs or self.settings.jobs

    # --- manifests and workspaces ------------------------------------------------------

    def manifest_path(self, *, manifest: Path | None = None) -> Path:
        """The manifest file an action that reads a manifest uses."""
        from nestr.workspace.locate import manifest_path

        return manifest_path(self.cwd, manifest)

    def manifest(self, *, manifest: Path | None = None, repos_only: bool = False) -> Manifest:
        """The manifest, loaded; ``repos_only``: from the input cache, no workflows or sync."""
        return _load(self.manifest_path(manifest=manifest), repos_only=repos_only)

    def target(
        self,
        *,
        manifest: Path | None = None,
        workspace: Path | None = None,
        groups: Sequence[str] = (),
        names: Sequence[str] = (),
        repos_only: bool = True,
    ) -> Target:
        """The workspace an action on a workspace works on, its manifest, the selected repos."""
        from nestr.workspace.locate import locate

        located = locate(self.cwd, manifest=manifest, workspace=workspace)
        assert located.workspace is not None  # a workspace is required here
        loaded = _load(located.manifest_path, repos_only=repos_only)
        repos = loaded.select(groups=groups, names=names)
        return Target(located.workspace, loaded, repos, tuple(groups), tuple(names))

    def project_files(self) -> ProjectFiles:
        """Reads files of other repos (west project imports) through the mirror cache."""
        from nestr.workspace.projectfiles import MirrorProjectFiles

        return MirrorProjectFiles(self._mirrors())

    def _mirrors(self, *, offline: bool = False) -> MirrorCache:
        from nestr.git.mirror import MirrorCache

        git = self.settings.git
        return MirrorCache(
            self.settings.cache_dir,
            freshness=git.fetch_freshness,
            offline=offline,
            timeout=git.timeout,
        )

    # --- workspaces -----------------------------------------------------------------------

    def assembly_target(
        self,
        *,
        manifest: Path | None = None,
        workspace: Path | None = None,
        ephemeral: bool = False,
        groups: Sequence[str] = (),
        names: Sequence[str] = (),
    ) -> AssemblyTarget:
        """Where ``assemble`` puts which repos of which manifest."""
        from nestr.workspace.locate import assembly_root

        loaded = self.manifest(manifest=manifest, repos_only=True)
        repos = loaded.select(groups=groups, names=names)
        root, wid = assembly_root(
            self.cwd,
            manifest_root=loaded.root,
            workspace=workspace,
            ephemeral=ephemeral,
            state_dir=self.settings.state_dir,
        )
        return AssemblyTarget(loaded, root, repos, tuple(groups), tuple(names), wid, ephemeral)

    async def assemble(
        self,
        target: AssemblyTarget,
        *,
        jobs: int | None = None,
        locked: bool = False,
        offline: bool = False,
        dissociate: bool = False,
        stash: bool = False,
        force: bool = False,
        ttl: timedelta | None = None,
    ) -> AssemblyResult:
        """Create or update the workspace of ``target`` (``ttl``: an ephemeral one's lifetime,
        8 hours by default)."""
        from nestr.workspace.assemble import AssembleOptions, assemble

        if ttl is not None and not target.ephemeral:
            from nestr.errors import UsageError

            raise UsageError("--ttl needs --ephemeral")
        options = AssembleOptions.from_settings(
            self.settings,
            groups=target.groups,
            names=target.names,
            jobs=jobs,
            locked=locked,
            offline=offline,
            dissociate=dissociate,
            stash=stash,
            force=force,
            ttl=(ttl or timedelta(hours=8)) if target.ephemeral else None,
            workspace_id=target.workspace_id,
        )
        with self.action():
            return await assemble(target.manifest, target.root, options, bus=self.bus)

    async def lock(
        self, *, manifest: Path | None = None, jobs: int | None = None, offline: bool = False
    ) -> LockResult:
        """Resolve every repo's revision and write ``nestr.lock`` beside the manifest."""
        from nestr.workspace.locking import lock_workspace

        loaded = self.manifest(manifest=manifest, repos_only=True)
        cache = self._mirrors(offline=offline)
        with self.action():
            return await lock_workspace(loaded, cache=cache, jobs=self._jobs(jobs), bus=self.bus)

    def status(self, target: Target, *, jobs: int | None = None) -> WorkspaceStatus:
        """Branch, commit, changes, upstream and lock drift of the repos of ``target``."""
        from nestr.workspace.status import workspace_status

        with self.action():
            return workspace_status(
                target.workspace,
                target.repos,
                manifest=target.manifest,
                jobs=self._jobs(jobs),
                timeout=self.settings.git.timeout,
            )

    async def foreach(
        self,
        target: Target,
        command: Sequence[str],
        *,
        shell: bool = False,
        jobs: int | None = None,
        keep_going: bool = False,
    ) -> ForeachReport:
        """Run ``command`` in each repo of ``target`` (``shell``: through ``sh -c``)."""
        from nestr.workspace.foreach import ForeachCommand, foreach

        with self.action():
            return await foreach(
                target.workspace,
                target.repos,
                ForeachCommand(tuple(command), shell=shell),
                bus=self.bus,
                jobs=self._jobs(jobs),
                keep_going=keep_going,
            )

    async def remove_workspace(self, workspace: str, *, force: bool = False) -> Removal:
        """Remove the workspace named by id or by (a path inside) its root, unless it holds
        local work (``force``: even then)."""
        from nestr.workspace.registry import find_registered
        from nestr.workspace.removal import remove_workspace

        state_dir = self.settings.state_dir
        entry = find_registered(state_dir, workspace, self.cwd)
        with self.action():
            removal = await remove_workspace(state_dir, entry, force=force)
            if removal.removed:
                data = {"workspace": removal.root, "id": removal.id, "repos": list(entry.repos)}
                self.bus.emit(WORKSPACE_REMOVED, data)
        return removal

    async def gc_workspaces(self, *, force: bool = False) -> list[Removal]:
        """Remove expired workspaces; say which were kept and why."""
        from nestr.workspace.removal import gc_workspaces

        with self.action():
            removals = await gc_workspaces(self.settings.state_dir, force=force)
            removed = sum(1 for r in removals if r.removed)
            data = {"removed": removed, "kept": len(removals) - removed}
            self.bus.emit(WORKSPACE_GC_FINISHED, data)
        return removals

    def gc_cache(self, *, dry_run: bool = False) -> list[MirrorRemoval]:
        """Remove mirrors no workspace borrows from (``dry_run``: only say which)."""
        from nestr.workspace.cache_usage import gc_mirrors

        settings = self.settings
        with self.action():
            removals = gc_mirrors(settings.cache_dir, settings.state_dir, dry_run=dry_run)
            if not dry_run:  # a dry run changes nothing: nothing to record
                gone = [r for r in removals if r.removed]
                data = {"removed": len(gone), "bytes": sum(r.size for r in gone)}
                self.bus.emit(CACHE_GC_FINISHED, data)
        return removals

    # --- sync -----------------------------------------------------------------------------

    async def sync_plan(
        self, target: Target, *, adopt: bool = False, jobs: int | None = None
    ) -> SyncPlan:
        """What sync would do to every managed file of the repos of ``target``."""
        from nestr.sync import plan_sync

        with self.action():
            return await plan_sync(
                target.manifest,
                target.workspace,
                groups=target.groups,
                names=target.names,
                adopt=adopt,
                jobs=self._jobs(jobs),
                timeout=self.settings.git.timeout,
            )

    async def sync_apply(
        self,
        target: Target,
        *,
        options: ApplyOptions,
        adopt: bool = False,
        jobs: int | None = None,
    ) -> SyncResult:
        """Write the shared files into the repos of ``target``; merge local edits."""
        from nestr.sync import apply_sync

        with self.action():
            return await apply_sync(
                target.manifest,
                target.workspace,
                groups=target.groups,
                names=target.names,
                adopt=adopt,
                options=options,
                jobs=self._jobs(jobs),
                timeout=self.settings.git.timeout,
                bus=self.bus,
            )

    def sync_status(self, target: Target) -> list[SyncRepoStatus]:
        """Which managed files of the repos of ``target`` changed since they were synced."""
        from nestr.sync import sync_status

        with self.action():
            return sync_status(
                target.manifest, target.workspace, groups=target.groups, names=target.names
            )

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

        located = locate(self.cwd, manifest=manifest, workspace=workspace, workspace_required=False)
        loaded = _load(located.manifest_path, repos_only=False)
        root = located.workspace.root if located.workspace is not None else None
        values = parse_vars(variables)
        return RunTarget(load_workflow(loaded, workflow), loaded, root, values)

    async def run(
        self, target: RunTarget, *, jobs: int | None = None, cancel: asyncio.Event | None = None
    ) -> RunResult:
        """Record and run the workflow of ``target``; setting ``cancel`` stops it."""
        from nestr.workflow.runs import run_workflow

        with self.action():
            return await run_workflow(
                target.workflow,
                manifest=target.manifest,
                state_dir=self.settings.state_dir,
                inputs=target.inputs,
                workspace_root=target.root,
                jobs=self._jobs(jobs),
                bus=self.bus,
                cancel=cancel,
                db=self.db,
            )

    async def resume(
        self, run: str, *, jobs: int | None = None, cancel: asyncio.Event | None = None
    ) -> RunResult:
        """Continue run ``run`` (id or prefix); steps that succeeded are not run again."""
        from nestr.workflow.runs import resume_run

        with self.action():
            return await resume_run(
                run,
                state_dir=self.settings.state_dir,
                jobs=self._jobs(jobs),
                bus=self.bus,
                cancel=cancel,
            )

    def cancel(self, run: str) -> Cancellation:
        """Ask run ``run`` to stop (or end it, when the process that ran it died)."""
        with self.action():
            return self.queries.cancel(run)

    # --- the event log ----------------------------------------------------------------------

    def events(
        self, *, since: int = 0, type_prefix: str | None = None, run: str | None = None
    ) -> list[Event]:
        """Stored events after ``since``, oldest first (``run``: an id or a unique prefix)."""
        run_id = self.queries.find_run(run).id if run is not None else None
        return self._event_log().read(since, type_prefix, run_id)

    def follow_events(
        self,
        *,
        since: int = 0,
        type_prefix: str | None = None,
        run: str | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> Iterator[Event]:
        """Stored events after ``since``, then new ones as any process appends them; ends when
        ``stop()`` is true or the consumer stops."""
        from nestr.events.log import open_event_log

        run_id = self.queries.find_run(run).id if run is not None else None
        # a log of its own: a connection sees only other connections' commits
        log = open_event_log(self.settings.state_dir)
        with contextlib.closing(log):
            yield from log.follow(since, type_prefix, run_id, stop=stop)


def _load(path: Path, *, repos_only: bool) -> Manifest:
    if repos_only:
        from nestr.manifest.cache import load_manifest_repos

        return load_manifest_repos(path)
    from nestr.manifest.loader import load_manifest

    return load_manifest(path)
