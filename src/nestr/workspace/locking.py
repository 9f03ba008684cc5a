"""``nestr lock``: resolve every repo's revision to a commit through the mirrors.

All repos of the manifest are locked, whatever the group filter, so one lock serves every
selection. Resolution runs in parallel; the lock is written only if every repo resolved, so a
failure never leaves a lock that pins part of the manifest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nestr.events import EventBus
from nestr.events.catalog import LOCK_FINISHED, LOCK_RESOLVED, LockFinished, LockResolved
from nestr.fanout import fan_out
from nestr.git.mirror import MirrorCache
from nestr.manifest.model import Manifest, RepoSpec
from nestr.workspace.lockfile import LockedRepo, LockFile, lock_path_for, manifest_hash, write_lock


@dataclass(frozen=True)
class LockFailure:
    """A repo whose revision could not be resolved, and why."""

    name: str
    revision: str
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class LockResult:
    """What ``lock_workspace`` resolved, where it wrote it, and what failed."""

    path: Path
    lock: LockFile
    failures: tuple[LockFailure, ...] = ()
    written: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ok": self.ok,
            "written": self.written,
            "manifest_hash": self.lock.manifest_hash,
            "seconds": round(self.seconds, 3),
            "repos": {
                name: {"url": r.url, "revision": r.revision, "commit": r.commit}
                for name, r in sorted(self.lock.repos.items())
            },
            "failures": [f.__dict__ for f in self.failures],
        }


async def lock_workspace(
    manifest: Manifest,
    *,
    cache: MirrorCache,
    jobs: int = 8,
    write: bool = True,
    bus: EventBus | None = None,
) -> LockResult:
    """Resolve each repo's revision in its (refreshed) mirror; write ``nestr.lock`` if all did."""
    bus = bus if bus is not None else EventBus()
    started = time.perf_counter()

    async def resolve(spec: RepoSpec) -> LockedRepo:
        await cache.ensure(spec.url, depth=spec.clone.depth)
        resolved = await cache.resolve(spec.url, spec.revision)
        data = LockResolved(revision=spec.revision, commit=resolved.commit, kind=resolved.kind)
        bus.emit(LOCK_RESOLVED, data, repo=spec.name)
        return LockedRepo(spec.name, spec.url, spec.revision, resolved.commit)

    outcomes = await fan_out(list(manifest.repos), resolve, jobs=jobs)
    pinned = {o.value.name: o.value for o in outcomes if o.value is not None}
    failures = tuple(_failure(o.item, o.error) for o in outcomes if o.error is not None)
    lock = LockFile(manifest_hash=manifest_hash(manifest), repos=pinned)
    path = lock_path_for(manifest)
    if write and not failures:
        write_lock(path, lock)
    result = LockResult(path, lock, failures, write and not failures, time.perf_counter() - started)
    bus.emit(LOCK_FINISHED, LockFinished(ok=result.ok, written=result.written))
    return result


def _failure(spec: RepoSpec, exc: BaseException) -> LockFailure:
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    return LockFailure(spec.name, spec.revision, str(message), getattr(exc, "hint", None))
