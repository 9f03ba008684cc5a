"""Carry out a sync plan: write files atomically, record bases, commit, branch and push.

Per repo, in this order: switch to ``--branch`` (created from HEAD), journal what is about to be
written when committing (see :mod:`nestr.sync.commit`), save a local edit ``overwrite`` discards
as a blob, write or delete files (temp file + rename; never a half-written file), store the new
bases as blobs, write ``.nestr/sync.lock`` (so no lock ever names a base the repo lacks), pin the
bases with a ref when no commit will hold them, then commit exactly what was written and push.
Conflicting files are left untouched unless ``conflicts="markers"``. Each repo is one outcome:
one repo's failure never stops the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from nestr.atomicfile import write_atomic
from nestr.errors import NestrError, UsageError
from nestr.events import catalog
from nestr.events.bus import EventBus
from nestr.events.catalog import SyncFile, SyncRepoFinished
from nestr.fanout import fan_out
from nestr.git.repo import Repo
from nestr.manifest.model import Manifest
from nestr.sync.commit import (
    Committed,
    commit_entries,
    entry_for,
    journal_path,
    push,
    read_journal,
    switch_branch,
    uncommitted_edits,
    uncommitted_settled,
    write_journal,
)
from nestr.sync.content import blob_id
from nestr.sync.files import safe_file
from nestr.sync.lockfile import LOCK_PATH, LockedFile, SyncLock, lock_file
from nestr.sync.model import FilePlan, RepoPlan, SyncPlan
from nestr.sync.objects import pin_bases, write_blobs
from nestr.sync.plan import plan_sync
from nestr.sync.planner import Action, Policy, Record
from nestr.sync.results import SyncRepoResult, SyncResult
from nestr.workspace.record import Workspace

DEFAULT_MESSAGE = "Sync shared files (nestr)"
_EVENT = {
    Action.CREATE: catalog.SYNC_FILE_CREATED,
    Action.UPDATE: catalog.SYNC_FILE_UPDATED,
    Action.MERGE: catalog.SYNC_FILE_MERGED,
    Action.DELETE: catalog.SYNC_FILE_DELETED,
    Action.CONFLICT: catalog.SYNC_FILE_CONFLICT,
}


class ConflictMode(StrEnum):
    """What apply does with a conflicting file."""

    SKIP = "skip"  # leave it untouched, report it
    MARKERS = "markers"  # write it with conflict markers, for review on a branch


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply: conflicts, and whether to commit, on which branch, and push."""

    conflicts: ConflictMode = ConflictMode.SKIP
    commit: bool = False
    branch: str | None = None
    message: str = DEFAULT_MESSAGE
    push: bool = False


async def apply_sync(
    manifest: Manifest,
    workspace: Workspace,
    *,
    groups: Iterable[str] = (),
    names: Iterable[str] = (),
    adopt: bool = False,
    options: ApplyOptions | None = None,
    jobs: int = 4,
    timeout: float = 600.0,
    bus: EventBus | None = None,
) -> SyncResult:
    """Plan (see :func:`~nestr.sync.plan.plan_sync`) and apply the sync of the selected repos."""
    options = options or ApplyOptions()
    if options.push and not options.commit:
        raise UsageError("--push needs --commit", hint="add --commit")
    plan = await plan_sync(
        manifest, workspace, groups=groups, names=names, adopt=adopt, jobs=jobs, timeout=timeout
    )
    return await apply_plan(plan, options=options, jobs=jobs, timeout=timeout, bus=bus)


async def apply_plan(
    plan: SyncPlan,
    *,
    options: ApplyOptions,
    jobs: int = 4,
    timeout: float = 600.0,
    bus: EventBus | None = None,
) -> SyncResult:
    """Apply an already computed plan (the work trees must not have changed since)."""

    async def one(repo: RepoPlan) -> SyncRepoResult:
        return await _apply_repo(repo, options, timeout=timeout, bus=bus)

    outcomes = await fan_out(list(plan.repos), one, jobs=jobs)
    results = []
    for outcome in outcomes:
        if outcome.value is not None:
            results.append(outcome.value)
            continue
        error = outcome.error
        if not isinstance(error, NestrError):
            raise error if error else RuntimeError("no outcome")
        results.append(SyncRepoResult(outcome.item, error=error))
        _finished(bus, results[-1])
    return SyncResult(tuple(results), plan)


async def _apply_repo(
    repo: RepoPlan, options: ApplyOptions, *, timeout: float, bus: EventBus | None
) -> SyncRepoResult:
    if repo.error is not None:
        result = SyncRepoResult(repo, error=repo.error)
        _finished(bus, result)
        return result
    markers = options.conflicts is ConflictMode.MARKERS
    chosen = [(f, _target(repo, f)) for f in repo.files if _writes(f, markers=markers)]
    lock = next_lock(repo, markers=markers)
    lock_path = lock_file(repo.directory)  # refuses a .nestr that is a link or not plain
    old_text = lock_path.read_text(encoding="utf-8") if lock_path.is_file() else None
    new_text = lock.to_text() if (lock.files or old_text is not None) else None
    lock_changed = new_text != old_text
    journal = await journal_path(repo.directory, timeout=timeout) if options.commit else None
    entries = read_journal(journal) if journal else {}  # a commit an earlier run did not finish
    resumed = bool(entries)
    if journal:  # nestr's content already on disk but not in HEAD (an earlier apply, a kill)
        committing = bool(chosen) or lock_changed  # then the commit itself skips what HEAD has
        entries.update(
            await uncommitted_settled(repo, new_text, timeout=timeout, ask_git=not committing)
        )
    if not chosen and not lock_changed and not entries:
        result = SyncRepoResult(repo)
        _emit_conflicts(bus, repo)
        _finished(bus, result)
        return result
    branch = (
        await switch_branch(repo.directory, options.branch, timeout) if options.branch else None
    )
    edits: tuple[str, ...] = ()
    if journal:
        entries.update({path: entry_for(f.after(markers=markers)) for f, path in chosen})
        if lock_changed and new_text is not None:
            entries[LOCK_PATH] = entry_for(new_text.encode())
        write_journal(journal, entries)  # before the first write: a re-run finishes the commit
        edits = await uncommitted_edits(repo.directory, chosen, timeout=timeout)
    saved = await _save_discarded(repo, [f for f, _ in chosen], timeout)
    written = [_write(repo, f, path, markers=markers, saved=saved, bus=bus) for f, path in chosen]
    # Bases are stored before the lock that names them is written (and before any commit).
    bases, files = _new_bases(repo, markers=markers)
    await write_blobs(repo.directory, bases, files=files, timeout=timeout)
    _emit_conflicts(bus, repo, skip=set(written))
    if lock_changed and new_text is not None:
        write_atomic(lock_path, new_text.encode())
    pin = not options.commit or resumed or _unreachable_bases(repo, markers=markers)
    if (lock_changed or resumed) and pin:
        await pin_bases(repo.directory, [e.blob for e in lock.files.values()], timeout=timeout)
    done, pushed = Committed(None), False
    if journal:
        done = await commit_entries(repo.directory, entries, options.message, timeout=timeout)
        journal.unlink(missing_ok=True)
        if options.push:
            branch = branch or await Repo(repo.directory, timeout=timeout).branch()
            pushed = await push(repo.directory, branch, timeout)
    result = SyncRepoResult(
        repo,
        tuple(written),
        lock_changed,
        done.commit,
        branch,
        pushed,
        saved=saved,
        not_committed=done.left_out,
        edits_committed=tuple(p for p in edits if p not in done.left_out) if done.commit else (),
    )
    _finished(bus, result)
    return result


def _writes(plan: FilePlan, *, markers: bool) -> bool:
    if plan.action is Action.CONFLICT:
        return markers and plan.markers is not None
    return plan.writes and not (plan.action is Action.DELETE and plan.before is None)


def _effective_record(plan: FilePlan, *, markers: bool) -> Record:
    if plan.action is Action.CONFLICT and markers and plan.markers is not None:
        return Record.SOURCE
    return plan.record


def next_lock(repo: RepoPlan, *, markers: bool = False) -> SyncLock:
    """The lock the repo holds once ``repo`` is applied."""
    files: dict[str, LockedFile] = {}
    for plan in repo.files:
        record = _effective_record(plan, markers=markers)
        if record is Record.SOURCE and plan.entry is not None:
            files[plan.path] = plan.entry
        elif record is Record.KEEP and plan.path in repo.lock.files:
            files[plan.path] = repo.lock.files[plan.path]
    return SyncLock(sources=repo.sources, vars_hash=repo.vars_hash, files=files)


def _new_bases(repo: RepoPlan, *, markers: bool) -> tuple[list[bytes], list[Path]]:
    """New bases to store: as bytes, or as the path of a just-written file holding exactly them."""
    bases: list[bytes] = []
    files: list[Path] = []
    for plan in repo.files:
        if _effective_record(plan, markers=markers) is not Record.SOURCE:
            continue
        old = repo.lock.files.get(plan.path)
        fresh = old is None or plan.entry is None or old.blob != plan.entry.blob
        if plan.base is None or not fresh:
            continue
        if plan.after(markers=markers) == plan.base:
            files.append(safe_file(repo.directory, plan.path))
        else:
            bases.append(plan.base)
    return bases, files


def _unreachable_bases(repo: RepoPlan, *, markers: bool) -> bool:
    """Whether a new base differs from the bytes written (a merge, CRLF, a block, markers).

    Other new bases are the content of files about to be committed, so the commit keeps them.
    """
    return any(
        _effective_record(plan, markers=markers) is Record.SOURCE
        and plan.base is not None
        and plan.after(markers=markers) != plan.base
        for plan in repo.files
    )


def _target(repo: RepoPlan, plan: FilePlan) -> str:
    """The path ``plan`` writes, relative to the repo (symlinks inside the repo resolved)."""
    return safe_file(repo.directory, plan.path).relative_to(repo.directory.resolve()).as_posix()


async def _save_discarded(repo: RepoPlan, plans: list[FilePlan], timeout: float) -> dict[str, str]:
    """Store each local edit ``policy: overwrite`` is about to discard as a blob, before writing."""
    found = {
        f.path: f.before
        for f in plans
        if f.policy is Policy.OVERWRITE
        and f.action is Action.UPDATE
        and f.before is not None
        and "overwritten" in f.detail
    }
    await write_blobs(repo.directory, list(found.values()), timeout=timeout)
    return {path: blob_id(data) for path, data in found.items()}


def _write(
    repo: RepoPlan,
    plan: FilePlan,
    path: str,
    *,
    markers: bool,
    saved: Mapping[str, str],
    bus: EventBus | None,
) -> str:
    target = safe_file(repo.directory, path)
    data = plan.after(markers=markers)
    if data is None:
        target.unlink(missing_ok=True)
    else:
        write_atomic(target, data, mode=plan.mode)
    if bus is not None:
        event = SyncFile(path=plan.path, policy=str(plan.policy), detail=plan.detail)
        if plan.path in saved:
            event["saved_blob"] = saved[plan.path]
        bus.emit(_EVENT[plan.action], event, repo=repo.repo, subject=plan.path)
    return plan.path


def _emit_conflicts(bus: EventBus | None, repo: RepoPlan, skip: set[str] | None = None) -> None:
    if bus is None:
        return
    for plan in repo.files:
        if plan.action is Action.CONFLICT and plan.path not in (skip or set()):
            bus.emit(
                catalog.SYNC_FILE_CONFLICT,
                SyncFile(path=plan.path, policy=str(plan.policy), detail=plan.detail),
                repo=repo.repo,
                subject=plan.path,
                severity="warning",
            )


def _finished(bus: EventBus | None, result: SyncRepoResult) -> None:
    if bus is None:
        return
    bus.emit(
        catalog.SYNC_REPO_FINISHED,
        SyncRepoFinished(
            counts=result.plan.counts(),
            written=list(result.written),
            commit=result.commit,
            branch=result.branch,
            pushed=result.pushed,
            not_committed=list(result.not_committed),
            local_edits_committed=list(result.edits_committed),
            error=result.error.message if result.error else None,
        ),
        repo=result.plan.repo,
        severity="error" if result.error else "info",
    )
