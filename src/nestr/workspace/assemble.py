"""Assemble (create or update) a workspace from a manifest: the executor of the plan.

Per repo: the mirror is brought up to date (network pool), the revision is resolved in it, then
the repo is cloned from the mirror into ``<ws>/.nestr/tmp/`` and renamed into place — a repo
directory appears only when complete — or, if it exists, moved to the revision unless it holds
local work (checkout pool). A nested repo waits for the repo that contains it. One repo's
failure is one failed result; the others finish. Every stage emits an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nestr.errors import GitError, NestrError, UsageError
from nestr.events import EventBus, catalog
from nestr.events.catalog import D, EventType
from nestr.fanout import fan_out
from nestr.git.failures import is_broken_repo
from nestr.git.filelock import file_lock
from nestr.git.localclone import Prototype, make_prototype
from nestr.git.mirror import Mirror, MirrorCache
from nestr.git.ondisk import WriteClones, WriteClonesSetting
from nestr.git.refs import Resolved, is_full_commit_id
from nestr.manifest.model import Manifest, RepoSpec
from nestr.observability.logging import bind_context
from nestr.workspace import repo_git, switching
from nestr.workspace.cloneopts import FILTER_NOT_APPLIED, mirror_depths, unapplied_filters
from nestr.workspace.containment import outside_refusal
from nestr.workspace.lockfile import lock_path_for, manifest_hash, read_lock
from nestr.workspace.plan import (
    RepoAction,
    RepoState,
    assembly_order,
    children_of,
    local_work_revs,
    parent_of,
    plan_repo,
    refuse_local_commits,
)
from nestr.workspace.record import (
    RECORD_DIR,
    Workspace,
    new_workspace_id,
    open_workspace,
    write_record,
)
from nestr.workspace.registry import discard_workspace, register
from nestr.workspace.results import (
    AssemblyResult,
    RepoResult,
    crashed_result,
    failed_result,
    refused_result,
    repo_result,
)

if TYPE_CHECKING:
    from nestr.config.settings import Settings

T = TypeVar("T")
TMP_DIR = "tmp"


@dataclass(frozen=True)
class AssembleOptions:
    """Everything ``assemble`` needs besides the manifest and the workspace root."""

    cache_dir: Path
    state_dir: Path
    groups: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    jobs: int = 8
    locked: bool = False
    offline: bool = False
    dissociate: bool = False
    stash: bool = False
    force: bool = False
    ttl: timedelta | None = None  # set for ephemeral workspaces: they expire after it
    workspace_id: str | None = None  # id for a new workspace (else a fresh one)
    fetch_freshness: float = 60.0
    git_timeout: float = 600.0
    write_clones: WriteClonesSetting = "auto"  # may nestr write git's files (git.write_clones)
    git_version: str | None = None  # the git version `auto` decides by; None: the installed git

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> AssembleOptions:
        """Options with the machine's cache/state dirs, jobs and git settings, then overrides."""
        base = cls(
            cache_dir=settings.cache_dir,
            state_dir=settings.state_dir,
            jobs=settings.jobs,
            fetch_freshness=settings.git.fetch_freshness,
            git_timeout=settings.git.timeout,
            write_clones=settings.git.write_clones,
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def select_repos(manifest: Manifest, groups: Sequence[str], names: Sequence[str]) -> list[RepoSpec]:
    """The repos to work on (:meth:`Manifest.select`: an unknown name is a usage error)."""
    return manifest.select(groups=groups, names=names)


def locked_commits(manifest: Manifest) -> dict[str, str]:
    """The commits of ``nestr.lock``; a missing or stale lock is a usage error (exit 2)."""
    path = lock_path_for(manifest)
    if not path.is_file():
        raise UsageError(f"no lock file at {path}", hint="run `nestr lock` to create it")
    lock = read_lock(path)
    if lock.manifest_hash != manifest_hash(manifest):
        raise UsageError(
            f"{path} is stale: the manifest changed since it was written",
            hint="run `nestr lock` to update it",
        )
    return {name: entry.commit for name, entry in lock.repos.items()}


async def assemble(
    manifest: Manifest, root: Path, options: AssembleOptions, *, bus: EventBus | None = None
) -> AssemblyResult:
    """Create or update the workspace at ``root`` from ``manifest``; never raises for one repo.

    An ephemeral workspace (``ttl`` set) that this call creates and that ends with nothing in
    it — every repo failed, or the assembly was aborted — is removed and unregistered at once
    instead of lingering until it expires; the result says ``discarded``.
    """
    bus = bus if bus is not None else EventBus()
    root = root.resolve()
    throwaway = options.ttl is not None and not root.exists()
    try:
        result = await _assemble(manifest, root, options, bus)
    except BaseException:
        if throwaway:
            _discard(options.state_dir, root, bus, "the assembly was aborted")
        raise
    if throwaway and result.repos and not any(r.ok for r in result.repos):
        _discard(options.state_dir, root, bus, "no repo could be assembled")
        result = replace(result, discarded=True)
    return result


def _discard(state_dir: Path, root: Path, bus: EventBus, reason: str) -> None:
    discard_workspace(state_dir, root)
    bus.emit(
        catalog.ASSEMBLY_DISCARDED, catalog.AssemblyDiscarded(workspace=str(root), reason=reason)
    )


async def _assemble(
    manifest: Manifest, root: Path, options: AssembleOptions, bus: EventBus
) -> AssemblyResult:
    if options.stash and options.force:
        raise UsageError("--stash and --force cannot be used together")
    specs = select_repos(manifest, options.groups, options.names)
    pins = locked_commits(manifest) if options.locked else {}
    warn_unapplied_filters(specs, bus)
    root = root.resolve()
    started = time.perf_counter()
    (root / RECORD_DIR).mkdir(parents=True, exist_ok=True)
    async with file_lock(root / RECORD_DIR / "assemble.lock"):
        _clear(root / RECORD_DIR / TMP_DIR)  # a killed run's leftovers
        workspace = _write_record(root, manifest, options)
        register(
            options.state_dir,
            workspace,
            ephemeral=workspace.expires is not None,
            repos=[s.path for s in specs],
        )
        run = _Assembly(manifest, workspace, options, bus, pins)
        repos = await run.all(specs)
        _clear(root / RECORD_DIR / TMP_DIR)  # the prototype
    result = AssemblyResult(
        workspace=str(root),
        workspace_id=workspace.id,
        manifest=str(manifest.path),
        locked=options.locked,
        repos=tuple(sorted(repos, key=lambda r: [s.name for s in specs].index(r.name))),
        seconds=time.perf_counter() - started,
        expires=workspace.expires.isoformat() if workspace.expires else None,
    )
    data = catalog.AssemblyFinished(
        workspace=str(root),
        ok=result.ok,
        counts=result.counts(),
        seconds=round(result.seconds, 3),
    )
    bus.emit(catalog.ASSEMBLY_FINISHED, data)
    return result


def warn_unapplied_filters(specs: Sequence[RepoSpec], bus: EventBus) -> None:
    """One warning event per distinct ``clone.filter`` value (the CLI prints it as a line)."""
    for value, names in unapplied_filters(specs).items():
        data = catalog.CloneFilterIgnored(message=FILTER_NOT_APPLIED, filter=value, repos=names)
        bus.emit(catalog.CLONE_FILTER_IGNORED, data, severity="warning")


def _write_record(root: Path, manifest: Manifest, options: AssembleOptions) -> Workspace:
    now = datetime.now(UTC)
    expires = now + options.ttl if options.ttl is not None else None
    if (root / RECORD_DIR / "workspace.json").is_file():
        known = open_workspace(root)
        workspace = replace(known, manifest_path=manifest.path, expires=expires or known.expires)
    else:
        wid = options.workspace_id or new_workspace_id()
        workspace = Workspace(root, manifest.path, wid, now, expires)
    write_record(workspace)
    return workspace


@dataclass
class _Assembly:
    """One run: the pools, the per-repo completion signals, and the mirror cache."""

    manifest: Manifest
    workspace: Workspace
    options: AssembleOptions
    bus: EventBus
    pins: dict[str, str]
    cache: MirrorCache = field(init=False)
    done: dict[str, asyncio.Event] = field(init=False, default_factory=dict)
    depths: dict[str, int | None] = field(init=False, default_factory=dict)  # per mirror URL
    prototype: asyncio.Future[Prototype | None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        o = self.options
        self.writes = WriteClones(o.write_clones, cache_dir=o.cache_dir, version=o.git_version)
        self.cache = MirrorCache(
            o.cache_dir,
            freshness=o.fetch_freshness,
            offline=o.offline,
            timeout=o.git_timeout,
            write_clones=self.writes,
        )
        self.network = asyncio.Semaphore(o.jobs)
        self.checkout = asyncio.Semaphore(o.jobs)

    async def all(self, specs: Sequence[RepoSpec]) -> list[RepoResult]:
        ordered = assembly_order(specs)  # parents take pool slots before their children
        self.done = {s.name: asyncio.Event() for s in ordered}
        self.depths = mirror_depths(ordered)
        if any(not (self.workspace.root / s.path / ".git").exists() for s in ordered):
            self._start_prototype()  # while the mirrors are checked: new repos will need it
        jobs = 1 if self.options.jobs == 1 else len(ordered)
        try:
            outcomes = await fan_out(ordered, self.one, jobs=max(jobs, 1))
        finally:
            await self._drop_prototype()
        return [
            o.value if o.value is not None else crashed_result(o.item, o.error) for o in outcomes
        ]

    async def one(self, spec: RepoSpec) -> RepoResult:
        started = time.perf_counter()
        data = catalog.RepoStarted(path=spec.path, revision=spec.revision, url=spec.url)
        self._emit(catalog.REPO_STARTED, spec, data)
        try:
            with bind_context(repo=spec.name):
                result = await self._repo(spec, started)
        except (NestrError, OSError) as exc:
            result = failed_result(spec, exc, started)
            lock_hint = switching.index_lock_hint(self.workspace.root / spec.path)
            result = replace(result, hint=lock_hint) if lock_hint else result
        self.done[spec.name].set()
        self._report(spec, result)
        return result

    async def _repo(self, spec: RepoSpec, started: float) -> RepoResult:
        blocked = await self._wait_for_parent(spec)
        if blocked is not None:
            return repo_result(spec, "failed", started, message=blocked)
        mirror, fetched, target = await self._rebuilding(spec, lambda: self._fetch(spec, started))
        async with self.checkout:
            result = await self._rebuilding(spec, lambda: self._place(spec, mirror, target))
        return replace(result, fetched=fetched, seconds=time.perf_counter() - started)

    async def _wait_for_parent(self, spec: RepoSpec) -> str | None:
        parent = parent_of(spec, self.manifest.repos)
        if parent is None:
            return None
        if parent.name in self.done:
            await self.done[parent.name].wait()
        if (self.workspace.root / parent.path / ".git").exists():
            return None  # there (a refused parent is still a parent)
        if parent.name in self.done:
            return f"it is nested in repo {parent.name!r}, which could not be assembled"
        return f"it is nested in repo {parent.name!r}, which is not assembled; select it too"

    async def _fetch(self, spec: RepoSpec, started: float) -> tuple[Mirror, bool, Resolved]:
        pin = self._pin(spec)
        async with self.network:
            mirror, fetched = await self.cache.ensure(
                spec.url, commit=pin, depth=self.depths[spec.url]
            )
        seconds = round(time.perf_counter() - started, 3)
        data = catalog.RepoFetched(
            url=spec.url, mirror=str(mirror.path), fetched=fetched, seconds=seconds
        )
        self._emit(catalog.REPO_FETCHED, spec, data)
        if pin is not None:
            return mirror, fetched, Resolved(spec.revision, "commit", None, pin)
        return mirror, fetched, await self.cache.resolve(spec.url, spec.revision)

    def _pin(self, spec: RepoSpec) -> str | None:
        """The commit to check out when it is fixed: from the lock, or a full commit id."""
        if not self.options.locked:
            return spec.revision if is_full_commit_id(spec.revision) else None
        if spec.name not in self.pins:
            raise UsageError(
                f"repo {spec.name!r} is not in nestr.lock", hint="run `nestr lock` to update it"
            )
        return self.pins[spec.name]

    async def _rebuilding(self, spec: RepoSpec, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work``; if git says the mirror is damaged, rebuild it once and run it again."""
        try:
            return await work()
        except GitError as exc:
            if not is_broken_repo(exc) or self.cache.offline:
                raise
        async with self.network:
            await self.cache.rebuild(spec.url, depth=self.depths[spec.url])
        return await work()

    async def _place(self, spec: RepoSpec, mirror: Mirror, target: Resolved) -> RepoResult:
        path = self.workspace.root / spec.path
        outside = outside_refusal(self.workspace.root, spec.path)
        if outside is not None:
            return refused_result(spec, RepoState(), outside)
        finished = await self._finish_interrupted(spec, path)
        result = await self._update(spec, mirror, target, path)
        if finished is None:
            return result
        return replace(result, message="; ".join(filter(None, (finished, result.message))))

    async def _finish_interrupted(self, spec: RepoSpec, path: Path) -> str | None:
        """Finish a move of the repo that a killed run left half-done (see ``switching``)."""
        if not switching.marker_path(path).exists():
            return None
        async with self.cache.reading(spec.url):  # the checkout reads the mirror's objects
            note = await switching.finish_interrupted(path, timeout=self.options.git_timeout)
        if note is not None:
            self._emit(catalog.REPO_MOVE_FINISHED, spec, catalog.RepoMoveFinished(message=note))
        return note

    async def _update(
        self, spec: RepoSpec, mirror: Mirror, target: Resolved, path: Path
    ) -> RepoResult:
        timeout = self.options.git_timeout
        async with self.cache.reading(spec.url):
            state = await repo_git.probe(path, timeout=timeout)
            action = plan_repo(state, target, stash=self.options.stash, force=self.options.force)
            if action.kind == "clone":
                await self._clone(spec, mirror, target, path)
                return repo_result(spec, "cloned", commit=target.commit)
            if action.kind == "refuse":
                return refused_result(spec, state, action)
            repo_git.exclude_children(path, children_of(spec, self.manifest.repos))
            if repo_git.origin_url(path) != spec.url:  # the manifest moved the repo
                await repo_git.set_origin(path, spec.url, timeout=timeout)
            if action.kind == "move":
                result = await self._move(spec, mirror, target, state, action, path)
            else:
                result = repo_result(
                    spec, "unchanged", commit=state.head, previous=state.head, message=action.note
                )
            if self.options.dissociate and result.ok:
                await repo_git.dissociate(path, timeout=timeout)
            return result

    def _start_prototype(self) -> asyncio.Future[Prototype | None] | None:
        """Start making the ``git init`` every new clone copies, once; None with --dissociate
        or when nestr does not write clones (``git.write_clones``)."""
        if self.options.dissociate or not self.writes.enabled:
            return None
        if self.prototype is None:
            self.prototype = asyncio.ensure_future(self._made_prototype())
        return self.prototype

    async def _made_prototype(self) -> Prototype | None:
        """The prototype; None if it cannot be made: clones then use ``git clone``, which
        reports whatever is wrong, per repo."""
        tmp_root = self.workspace.root / RECORD_DIR / TMP_DIR
        try:
            tmp_root.mkdir(parents=True, exist_ok=True)
            return await make_prototype(tmp_root / "prototype", timeout=self.options.git_timeout)
        except (GitError, OSError):
            return None

    async def _drop_prototype(self) -> None:
        """Stop making a prototype that no clone waited for, and wait until its git is gone
        (an aborted assembly may remove the workspace next: nothing may write there after)."""
        if self.prototype is not None:
            self.prototype.cancel()
            with contextlib.suppress(BaseException):
                await self.prototype

    async def _prototype(self) -> Prototype | None:
        """The prototype for a new clone; None: it is made by ``git clone``."""
        started = self._start_prototype()
        return None if started is None else await asyncio.shield(started)

    async def _clone(self, spec: RepoSpec, mirror: Mirror, target: Resolved, dest: Path) -> None:
        tmp_root = self.workspace.root / RECORD_DIR / TMP_DIR
        tmp_root.mkdir(parents=True, exist_ok=True)
        tmp = tmp_root / f"{re.sub(r'[^A-Za-z0-9._-]', '_', spec.name)}-{uuid.uuid4().hex[:8]}"
        try:
            await repo_git.clone_from_mirror(
                mirror,
                tmp,
                target,
                url=spec.url,
                dissociate=self.options.dissociate,
                timeout=self.options.git_timeout,
                prototype=await self._prototype(),
                write_files=self.writes.enabled,
            )
            repo_git.exclude_children(tmp, children_of(spec, self.manifest.repos))
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp.rename(dest)  # atomic: the repo directory appears complete or not at all
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    async def _move(
        self,
        spec: RepoSpec,
        mirror: Mirror,
        target: Resolved,
        state: RepoState,
        action: RepoAction,
        path: Path,
    ) -> RepoResult:
        timeout = self.options.git_timeout
        pinned = target.commit if target.kind == "commit" else None
        await repo_git.refresh_tracking(path, mirror, timeout=timeout, commit=pinned)
        revs = local_work_revs(state, target)
        if not action.force and await repo_git.has_local_work(path, revs, target, timeout=timeout):
            return refused_result(spec, state, refuse_local_commits())
        stash = await repo_git.stash_push(path, timeout=timeout) if state.dirty else None
        branch = target.short_name if target.kind == "branch" else None
        switching.begin(path, switching.Switch(target.commit, branch, state.head, stash))
        try:
            await repo_git.move_to(path, state, target, force=action.force, timeout=timeout)
        except GitError as exc:
            if exc.returncode is not None and exc.returncode >= 0:  # git ended by itself
                switching.end(path)
            if stash is not None and action.stash:
                await repo_git.stash_pop(path, timeout=timeout)  # give the changes back
            raise
        switching.end(path)
        common: dict[str, Any] = {"commit": target.commit, "previous": state.head}
        if stash is None:
            return repo_result(spec, "updated", **common)
        if action.force:
            note = f"local changes saved in stash {stash[:12]} (git stash list)"
            return repo_result(spec, "updated", message=note, stash=stash, **common)
        if await repo_git.stash_pop(path, timeout=timeout):
            return repo_result(spec, "updated", message="local changes re-applied", **common)
        return repo_result(
            spec,
            "conflict",
            message="re-applying local changes conflicted; the stash was kept",
            hint="resolve the conflicts, then `git stash drop`",
            stash=stash,
            **common,
        )

    def _emit(self, type: EventType[D], spec: RepoSpec, data: D) -> None:
        self.bus.emit(type, data, repo=spec.name)

    def _report(self, spec: RepoSpec, result: RepoResult) -> None:
        data = result.to_dict()
        if result.status in {"cloned", "updated"}:
            self._emit(catalog.REPO_CHECKED_OUT, spec, data)
        elif result.status in {"unchanged", "refused"}:
            self._emit(catalog.REPO_SKIPPED, spec, data)
        else:
            self.bus.emit(catalog.REPO_FAILED, data, repo=spec.name, severity="error")


def _clear(path: Path) -> None:
    """Remove ``path``, a directory or anything else that is in its way."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
