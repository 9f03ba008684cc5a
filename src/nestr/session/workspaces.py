"""The operations of a session on workspaces and their shared files: assemble, lock, status,
foreach, workspace rm/gc, cache gc, and sync plan/apply/status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nestr.events.catalog import (
    CACHE_GC_FINISHED,
    WORKSPACE_GC_FINISHED,
    WORKSPACE_REMOVED,
    CacheGcFinished,
    WorkspaceGcFinished,
    WorkspaceRemoved,
)
from nestr.session.audit import asked, repos_target
from nestr.session.base import SessionBase
from nestr.session.targets import AssemblyTarget, Target

if TYPE_CHECKING:
    from nestr.sync import ApplyOptions, SyncPlan, SyncResult
    from nestr.sync.status import RepoStatus as SyncRepoStatus
    from nestr.workspace.cache_usage import MirrorRemoval, MirrorUsage
    from nestr.workspace.foreach import ForeachReport
    from nestr.workspace.locking import LockResult
    from nestr.workspace.registry import RegistryEntry
    from nestr.workspace.removal import Removal
    from nestr.workspace.results import AssemblyResult
    from nestr.workspace.status import WorkspaceStatus

# Types of the events the session publishes itself (the other operations' events come from
# their libraries). Plain strings in one place, to be taken from the event catalogue.


class WorkspaceOperations(SessionBase):
    """Assemble, lock, status, foreach, removal and gc, sync."""

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

        given = asked(manifest=manifest, workspace=workspace, groups=groups, repos=names)
        with self.refusals("workspace.assemble", given):
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

        audit = self.audited("workspace.assemble", _assembly_target(target))
        with self.action(), audit.recording():
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
            result = await assemble(target.manifest, target.root, options, bus=self.bus)
            if not result.ok:
                audit.failed("repos failed", failed=_failed_repos(result))
            return result

    async def lock(
        self, *, manifest: Path | None = None, jobs: int | None = None, offline: bool = False
    ) -> LockResult:
        """Resolve every repo's revision and write ``nestr.lock`` beside the manifest."""
        from nestr.workspace.locking import lock_workspace

        audit = self.audited("lock", {"manifest": None if manifest is None else str(manifest)})
        with self.action(), audit.recording():
            audit.target.update(manifest=str(self.manifest_path(manifest=manifest)))
            loaded = self.manifest(manifest=manifest, repos_only=True)
            cache = self._mirrors(offline=offline)
            result = await lock_workspace(loaded, cache=cache, jobs=self._jobs(jobs), bus=self.bus)
            audit.target.update(lock=str(result.path), written=result.written)
            if not result.ok:
                audit.failed("repos failed", failed=sorted(f.name for f in result.failures))
            return result

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
        timeout: float | None = None,
    ) -> ForeachReport:
        """Run ``command`` in each repo of ``target`` (``shell``: through ``sh -c``); a command
        still running ``timeout`` seconds after its start is ended with its process group."""
        from nestr.redaction import redact_argv
        from nestr.workspace.foreach import ForeachCommand, foreach

        names = [repo.name for repo in target.repos]
        where = {"workspace": str(target.workspace.root), **repos_target(names)}
        audit = self.audited("foreach", {**where, "command": redact_argv(command), "shell": shell})
        with self.action(), audit.recording():
            report = await foreach(
                target.workspace,
                target.repos,
                ForeachCommand(tuple(command), shell=shell),
                bus=self.bus,
                jobs=self._jobs(jobs),
                keep_going=keep_going,
                timeout=timeout,
            )
            if not report.ok:
                audit.failed("commands failed", failed=[r.name for r in report.failed])
            return report

    def workspaces(self) -> list[RegistryEntry]:
        """The workspaces registered on this machine, oldest first."""
        from nestr.workspace.registry import registered

        return registered(self.settings.state_dir)

    def listed_workspaces(self) -> list[dict[str, Any]]:
        """The rows of ``nestr workspace list --json``: the registered workspaces, oldest
        first, each with whether its directory exists and whether it expired."""
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        return [entry.listed(now) for entry in self.workspaces()]

    def mirrors(self) -> list[MirrorUsage]:
        """The mirrors of the cache: URL, size, last fetch, the workspaces that borrow."""
        from nestr.workspace.cache_usage import list_mirrors

        return list_mirrors(self.settings.cache_dir, self.settings.state_dir)

    async def remove_workspace(self, workspace: str, *, force: bool = False) -> Removal:
        """Remove the workspace named by id or by (a path inside) its root, unless it holds
        local work (``force``: even then)."""
        from nestr.workspace.registry import find_registered
        from nestr.workspace.removal import remove_workspace

        state_dir = self.settings.state_dir
        audit = self.audited("workspace.remove", {"workspace": workspace, "force": force})
        with self.action(), audit.recording():
            entry = find_registered(state_dir, workspace, self.cwd)
            audit.target.update(workspace=str(entry.root), id=entry.id)
            removal = await remove_workspace(state_dir, entry, force=force)
            if removal.removed:
                data = WorkspaceRemoved(
                    workspace=removal.root, id=removal.id, repos=list(entry.repos)
                )
                self.bus.emit(WORKSPACE_REMOVED, data)
            else:
                audit.refused("holds local work", reasons=list(removal.reasons))
        return removal

    async def gc_workspaces(self, *, force: bool = False) -> list[Removal]:
        """Remove expired workspaces; say which were kept and why."""
        from nestr.workspace.removal import gc_workspaces

        audit = self.audited("workspace.gc", {"force": force})
        with self.action(), audit.recording():
            removals = await gc_workspaces(self.settings.state_dir, force=force)
            removed = sum(1 for r in removals if r.removed)
            data = WorkspaceGcFinished(removed=removed, kept=len(removals) - removed)
            self.bus.emit(WORKSPACE_GC_FINISHED, data)
            audit.ok(removed=[r.id for r in removals if r.removed], kept=data["kept"])
        return removals

    def gc_cache(self, *, dry_run: bool = False) -> list[MirrorRemoval]:
        """Remove mirrors no workspace borrows from (``dry_run``: only say which)."""
        from nestr.workspace.cache_usage import gc_mirrors

        settings = self.settings
        if dry_run:  # changes nothing: no event, no audit record
            with self.action():
                return gc_mirrors(settings.cache_dir, settings.state_dir, dry_run=True)
        audit = self.audited("cache.gc", {"cache": str(settings.cache_dir)})
        with self.action(), audit.recording():
            removals = gc_mirrors(settings.cache_dir, settings.state_dir, dry_run=False)
            gone = [r for r in removals if r.removed]
            data = CacheGcFinished(removed=len(gone), bytes=sum(r.size for r in gone))
            self.bus.emit(CACHE_GC_FINISHED, data)
            audit.ok(removed=len(gone), bytes=data["bytes"])
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

        audit = self.audited("sync.apply", _workspace_target(target))
        with self.action(), audit.recording():
            result = await apply_sync(
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
            failed = [r.plan.repo for r in result.repos if r.error is not None]
            if failed:
                audit.failed("repos failed", failed=failed, conflicts=result.conflicts)
            audit.ok(conflicts=result.conflicts)
            return result

    def sync_status(self, target: Target) -> list[SyncRepoStatus]:
        """Which managed files of the repos of ``target`` changed since they were synced."""
        from nestr.sync import sync_status

        with self.action():
            return sync_status(
                target.manifest, target.workspace, groups=target.groups, names=target.names
            )


def _assembly_target(target: AssemblyTarget) -> dict[str, Any]:
    """What an assembly's audit record names: workspace, manifest, repos."""
    names = [repo.name for repo in target.repos]
    shown = {"workspace": str(target.root), "manifest": str(target.manifest.path)}
    return {**shown, **repos_target(names), "ephemeral": target.ephemeral}


def _workspace_target(target: Target) -> dict[str, Any]:
    """What an action on a workspace's repos names in its audit record."""
    names = [repo.name for repo in target.repos]
    shown = {"workspace": str(target.workspace.root), "manifest": str(target.manifest.path)}
    return {**shown, **repos_target(names)}


def _failed_repos(result: AssemblyResult) -> list[str]:
    return [r.name for r in result.repos if r.status in {"failed", "refused"}]
