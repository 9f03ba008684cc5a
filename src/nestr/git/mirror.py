"""The mirror cache: one bare mirror per URL, shared by every workspace on the machine.

Layout: ``<cache_dir>/mirrors/<name>-<hash>.git`` (the bare repository), ``<…>.git.lock`` (the
flock every reader and writer takes: shared to clone from it, exclusive to create, fetch or
rebuild) and ``<…>.git/nestr-mirror.json`` (URL, time of the last fetch, depth). Mirrors are only
ever added to: ``gc.auto=0`` and no ``git gc``, because workspaces borrow their objects through
``objects/info/alternates`` and a pruned object would break them. Refs deleted upstream are
pruned (that frees no object). Transient network failures are retried with a short capped
backoff; a commit no branch or tag reaches is fetched by id, a ref outside branches and tags
(``refs/pull/7/head``) is fetched under its own name when a revision names it, and a mirror that
is no longer a usable repository is rebuilt.

A mirror first needed with a ``depth`` is shallow until a request needs more (then ``fetch
--unshallow``); never the other way. It is refreshed with a plain ``fetch`` so new commits join
the old ones (``--depth`` would cut them off and workspace branches could not fast-forward). A
pinned commit beyond its history is fetched by id with its depth, else the mirror is made full
(also when such a fetch hides history the mirror has and ``git.write_clones`` keeps nestr from
taking the new boundaries off the ``shallow`` list: see :mod:`nestr.git.shallow`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from nestr.errors import GitError, WorkFailed
from nestr.git.failures import classify, is_transient
from nestr.git.filelock import file_lock
from nestr.git.mirrorinfo import META_FILE, Mirror, mirror_name
from nestr.git.ondisk import WriteClones, WriteClonesSetting
from nestr.git.refs import (
    Resolved,
    candidate_refs,
    extra_ref,
    is_branch_or_tag,
    is_full_commit_id,
    kind_of_ref,
    read_commit_of_ref,
    read_tips,
    ref_exists,
)
from nestr.git.runner import DEFAULT_TIMEOUT, run_git
from nestr.git.shallow import is_shallow, keep_history, read_shallow
from nestr.observability.logging import get_logger

__all__ = [  # Mirror and mirror_name live in mirrorinfo; callers import them from here
    "FETCH_REFSPECS",
    "MIRRORS_DIR",
    "Mirror",
    "MirrorCache",
    "RetryPolicy",
    "UnknownRevision",
    "mirror_name",
]

log = get_logger("nestr.git.mirror")

MIRRORS_DIR = "mirrors"
# Workspaces borrow objects: nothing may ever collect them (refs are pruned by explicit fetch).
# A clone from a shallow mirror copies objects over the pack protocol; it then fetches pinned
# commits no ref reaches by id, which protocol v0 refuses without allowAnySHA1InWant.
_MIRROR_CONFIG = (
    *("-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "fetch.prune=false"),
    *("-c", "uploadpack.allowAnySHA1InWant=true"),
)
_HEX = re.compile(r"[0-9a-f]{4,40}")
_NO_REMOTE_REF = re.compile(r"couldn't find remote ref|no such remote ref", re.IGNORECASE)
FETCH_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


@dataclass(frozen=True)
class RetryPolicy:
    """Tries and backoff for transient network failures (small and capped)."""

    tries: int = 3
    first_delay: float = 0.2
    max_delay: float = 2.0


class MirrorCache:
    """Create, refresh, resolve in, and rebuild the mirrors under ``<cache_dir>/mirrors``.

    One instance serves one operation (an assembly, a lock): it remembers which mirrors it has
    already fetched, so repos sharing a URL fetch once.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        freshness: float = 60.0,
        offline: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        write_clones: WriteClones | WriteClonesSetting = "auto",
        retry: RetryPolicy | None = None,
    ) -> None:
        self.root = cache_dir / MIRRORS_DIR
        self.freshness = freshness
        self.offline = offline
        self.timeout = timeout
        # git.write_clones: whether nestr may edit a mirror's `shallow` list itself
        self.write_clones = (
            write_clones
            if isinstance(write_clones, WriteClones)
            else WriteClones(write_clones, cache_dir=cache_dir)
        )
        self.retry = retry or RetryPolicy()
        self._fetched: set[str] = set()
        self._extra: set[tuple[str, str]] = set()  # (url, ref) fetched on demand
        self._leftovers: list[str] | None = None  # names of .tmp-* dirs, listed once

    def mirror(self, url: str) -> Mirror:
        return Mirror(url, self.root / mirror_name(url))

    def reading(self, url: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Shared lock: hold it while cloning from or reading the mirror."""
        return file_lock(self.mirror(url).lock_path, shared=True)

    async def ensure(
        self, url: str, *, commit: str | None = None, depth: int | None = None
    ) -> tuple[Mirror, bool]:
        """The mirror of ``url``, created or refreshed as needed; and whether it was fetched.

        With ``commit``, a mirror that already holds it is not fetched at all (lock files pin
        commits, so a locked assembly from a warm cache needs no network). ``depth`` is how
        much history the caller needs: None means all of it (a shallow mirror becomes full),
        N means N commits from each tip (a new mirror is created shallow). ``--offline``
        leaves a shallow mirror as it is: it serves what it has.
        """
        mirror = self.mirror(url)
        async with file_lock(mirror.lock_path):
            self._remove_stale_tmp(mirror)
            if not await self._refresh(mirror, commit, depth):
                return mirror, False  # fresh, or already holding the commit
            if commit is not None and not await self.has_commit(mirror, commit):
                self._require_online(mirror, commit)
                await self._fetch_commit(mirror, commit)
            return mirror, True

    async def rebuild(self, url: str, *, depth: int | None = None) -> Mirror:
        """Throw the mirror away and fetch it again (it was found damaged)."""
        mirror = self.mirror(url)
        async with file_lock(mirror.lock_path):
            log.warning("rebuilding damaged mirror", url=url, path=str(mirror.path))
            self._fetched.discard(url)
            self._remove_stale_tmp(mirror)
            await self._create(mirror, depth)
        return mirror

    async def resolve(self, url: str, revision: str) -> Resolved:
        """The kind, ref and commit ``revision`` names in the mirror of ``url``."""
        mirror = self.mirror(url)
        extra = extra_ref(revision)
        if extra is not None and not is_branch_or_tag(mirror.path, revision):
            return await self._resolve_extra(mirror, revision, extra)
        if not is_full_commit_id(revision):
            for ref in candidate_refs(revision):
                found = read_commit_of_ref(mirror.path, ref)
                if found is not None:
                    return Resolved(revision, kind_of_ref(ref), ref, found)
        return await self._resolve_with_git(mirror, revision)

    async def _resolve_extra(self, mirror: Mirror, revision: str, ref: str) -> Resolved:
        """A ref outside branches and tags (``refs/pull/7/head``): fetched into the mirror under
        its own name when first asked for in an operation, as ``west update`` fetches it."""
        if (mirror.url, ref) not in self._extra and not self._extra_is_fresh(mirror, ref):
            async with file_lock(mirror.lock_path):
                await self._fetch_ref(mirror, revision, ref)
        commit = await self._rev_parse(mirror, [f"{ref}^{{commit}}"])
        if commit is None:
            raise UnknownRevision(mirror.url, revision)
        return Resolved(revision, "commit", None, commit)

    def _extra_is_fresh(self, mirror: Mirror, ref: str) -> bool:
        if not ref_exists(mirror.path, ref):
            return False  # offline, _fetch_ref says the cache lacks it
        if self.offline:
            return True
        last = mirror.last_fetch()  # a mirror fetched by this operation fetches its refs too
        fetched_now = mirror.url in self._fetched
        return not fetched_now and last is not None and time.time() - last < self.freshness

    async def _fetch_ref(self, mirror: Mirror, revision: str, ref: str) -> None:
        self._require_online(mirror)
        shallow = ["--update-shallow"] if mirror.shallow_depth() is not None else []
        args = ["fetch", "--quiet", "--no-write-fetch-head", *shallow, "--", mirror.url]
        try:
            await self._with_retry([*args, f"+{ref}:{ref}"], cwd=mirror.path)
        except GitError as exc:
            if _NO_REMOTE_REF.search(exc.stderr):
                raise UnknownRevision(mirror.url, revision) from exc
            raise
        self._extra.add((mirror.url, ref))

    async def _refresh(self, mirror: Mirror, commit: str | None, depth: int | None) -> bool:
        """Create, deepen or fetch the mirror as the request needs; whether it fetched."""
        if not mirror.looks_healthy():
            await self._create(mirror, depth)
        elif self._too_shallow(mirror, depth):
            await self._unshallow(mirror)
        elif await self._already_has(mirror, commit):
            return False
        else:
            self._require_online(mirror, commit)
            await self._fetch(mirror)
        return True

    def _too_shallow(self, mirror: Mirror, depth: int | None) -> bool:
        have = mirror.shallow_depth()
        if have is None or (depth is not None and depth <= have):
            return False
        if self.offline:
            log.info("shallow mirror kept shallow: --offline", url=mirror.url, depth=have)
            return False
        return True

    async def _already_has(self, mirror: Mirror, commit: str | None) -> bool:
        if commit is None:
            return self._is_fresh(mirror)
        return await self.has_commit(mirror, commit)

    async def has_commit(self, mirror: Mirror, commit: str) -> bool:
        """Whether the mirror holds ``commit``: a branch or tag at it proves it without git."""
        if commit in read_tips(mirror.path).values():
            return True
        result = await run_git(
            ["cat-file", "-e", f"{commit}^{{commit}}"],
            cwd=mirror.path,
            timeout=self.timeout,
            check=False,
        )
        return result.returncode == 0

    async def _resolve_with_git(self, mirror: Mirror, revision: str) -> Resolved:
        """Ask git; ``--verify --end-of-options`` keeps a revision from reading as an option
        or a range (the manifest refuses those already; this is the second line)."""
        if revision.startswith("-"):
            raise UnknownRevision(mirror.url, revision)
        ref = next((r for r in candidate_refs(revision) if ref_exists(mirror.path, r)), None)
        commit = await self._rev_parse(mirror, [f"{ref or revision}^{{commit}}"])
        if commit is None:
            raise UnknownRevision(mirror.url, revision)
        if ref is None and not _HEX.fullmatch(revision):  # HEAD, a symbolic or other ref
            name = await self._rev_parse(mirror, ["--symbolic-full-name", revision])
            ref = name if name and name.startswith("refs/") else None
            ref = ref if ref is not None and ref_exists(mirror.path, ref) else None
        kind = kind_of_ref(ref) if ref else "commit"
        return Resolved(revision, kind, ref, commit)

    async def _rev_parse(self, mirror: Mirror, args: list[str]) -> str | None:
        """``git rev-parse --verify`` of one revision; None if it names nothing."""
        *options, rev = args
        argv = ["rev-parse", "--verify", "--quiet", *options, "--end-of-options", rev]
        result = await run_git(argv, cwd=mirror.path, timeout=self.timeout, check=False)
        out = result.stdout.strip()
        return out if result.returncode == 0 and out and "\n" not in out else None

    def _is_fresh(self, mirror: Mirror) -> bool:
        if mirror.url in self._fetched or self.offline:
            return True
        last = mirror.last_fetch()
        return last is not None and time.time() - last < self.freshness

    def _require_online(self, mirror: Mirror, commit: str | None = None) -> None:
        if not self.offline:
            return
        depth = mirror.shallow_depth()
        if commit is None or depth is None:
            raise WorkFailed(
                f"{mirror.url}: needed commits are not in the cache and --offline forbids fetching",
                hint="run once without --offline to fill the cache",
            )
        raise WorkFailed(
            f"{mirror.url}: commit {commit[:12]} is not in the cache (the mirror is shallow,"
            f" depth {depth or '?'}) and --offline forbids fetching",
            hint="run once without --offline: the commit is fetched, or the mirror made full",
        )

    async def _create(self, mirror: Mirror, depth: int | None = None) -> None:
        """Clone beside the final path, then rename: a mirror appears only when complete."""
        if self.offline:
            if not mirror.path.exists():  # nothing to lock: leave no lock file behind
                mirror.lock_path.unlink(missing_ok=True)
            raise WorkFailed(
                f"{mirror.url}: not in the cache and --offline forbids fetching",
                hint="run once without --offline to fill the cache",
            )
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{mirror.path.name}-{uuid.uuid4().hex[:8]}"
        try:
            args = ["clone", "--bare", "--quiet", *_MIRROR_CONFIG, *_depth_args(depth)]
            await self._with_retry([*args, "--", mirror.url, str(tmp)], cwd=self.root, tmp=tmp)
            # a plain local path ignores --depth, and a short history needs no boundary
            _write_meta(tmp, mirror.url, depth if is_shallow(tmp) else None)
            if mirror.path.exists():
                shutil.rmtree(mirror.path)
            tmp.rename(mirror.path)
        except BaseException:
            if not mirror.path.exists():  # a failed first clone leaves no lock file behind
                mirror.lock_path.unlink(missing_ok=True)  # (waiters re-lock: see filelock)
            raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self._fetched.add(mirror.url)

    def _remove_stale_tmp(self, mirror: Mirror) -> None:
        """Half-made clones of this mirror are a killed run's: we hold the mirror's lock.

        The cache directory is listed once per instance, not once per repo: with hundreds of
        mirrors that listing would dominate a warm assembly. A clone left by a run killed
        after the listing is found by the next one.
        """
        if self._leftovers is None:
            try:
                names = [path.name for path in self.root.iterdir()]
                self._leftovers = [name for name in names if name.startswith(".tmp-")]
            except FileNotFoundError:
                self._leftovers = []
        prefix = f".tmp-{mirror.path.name}-"
        for name in [n for n in self._leftovers if n.startswith(prefix)]:
            shutil.rmtree(self.root / name, ignore_errors=True)
            self._leftovers.remove(name)

    async def _fetch(self, mirror: Mirror) -> None:
        _remove_stale_locks(mirror.path)  # we hold the exclusive lock: any *.lock is a dead run's
        args = ["fetch", "--quiet", "--prune", "--no-write-fetch-head", "--", mirror.url]
        await self._with_retry([*args, *FETCH_REFSPECS], cwd=mirror.path)
        _write_meta(mirror.path, mirror.url, mirror.shallow_depth())
        self._fetched.add(mirror.url)

    async def _unshallow(self, mirror: Mirror) -> None:
        """Fetch all the history a shallow mirror lacks: it is a full mirror from now on."""
        _remove_stale_locks(mirror.path)
        log.info("making shallow mirror full", url=mirror.url, depth=mirror.shallow_depth())
        args = ["fetch", "--quiet", "--prune", "--unshallow", "--no-write-fetch-head"]
        await self._with_retry([*args, "--", mirror.url, *FETCH_REFSPECS], cwd=mirror.path)
        _write_meta(mirror.path, mirror.url, None)
        self._fetched.add(mirror.url)

    async def _fetch_commit(self, mirror: Mirror, commit: str) -> None:
        """Fetch a commit no branch or tag reaches (servers may refuse; say so clearly).

        A shallow mirror first asks for the commit with its own depth; if the server refuses
        (protocol v0 without ``allowReachableSHA1InWant``) or the commit is still missing, the
        mirror is made full, which brings every commit a branch or tag reaches.
        """
        depth = mirror.shallow_depth()
        if depth is not None:
            if depth and await self._fetch_commit_shallow(mirror, commit, depth):
                return
            await self._unshallow(mirror)
            if await self.has_commit(mirror, commit):
                return
        try:
            args = ["fetch", "--quiet", "--no-write-fetch-head", "--", mirror.url, commit]
            await self._with_retry(args, cwd=mirror.path)
        except GitError as exc:
            raise UnknownRevision(mirror.url, commit) from exc
        if not await self.has_commit(mirror, commit):
            raise UnknownRevision(mirror.url, commit)

    async def _fetch_commit_shallow(self, mirror: Mirror, commit: str, depth: int) -> bool:
        """``fetch --depth N <commit>``; False if the server refused or did not send it."""
        before = read_shallow(mirror.path)
        args = ["fetch", "--quiet", f"--depth={depth}", "--no-write-fetch-head"]
        try:
            await self._with_retry([*args, "--", mirror.url, commit], cwd=mirror.path)
        except GitError as exc:
            if is_transient(exc):
                raise
            log.info("shallow fetch of a pinned commit refused", url=mirror.url, commit=commit)
            return False
        write = self.write_clones.enabled
        if await keep_history(mirror.path, before, timeout=self.timeout, write=write):
            return False  # git hides history the mirror has: make it full (the caller does)
        return await self.has_commit(mirror, commit)

    async def _with_retry(self, args: list[str], *, cwd: Path, tmp: Path | None = None) -> None:
        delay = self.retry.first_delay
        for attempt in range(1, self.retry.tries + 1):
            try:
                await run_git(args, cwd=cwd, timeout=self.timeout)
                return
            except GitError as exc:
                kind = classify(exc)
                if kind == "remote" and exc.hint is None:
                    exc.hint = REMOTE_HINT
                if attempt == self.retry.tries or kind != "transient":
                    raise
                log.info("transient git failure, retrying", attempt=attempt, argv=exc.argv)
                if tmp is not None and tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
                await asyncio.sleep(delay * (1 + random.random() / 2))
                delay = min(delay * 2, self.retry.max_delay)


REMOTE_HINT = (
    "this is the server's answer, not a network hiccup, so it was not retried:"
    " check the URL and your access, or ask the server's owner"
)


class UnknownRevision(WorkFailed):
    """A revision that names nothing in the repository."""

    def __init__(self, url: str, revision: str) -> None:
        super().__init__(
            f"revision {revision!r} not found in {url}",
            hint="check the branch, tag or commit in the manifest (or run `nestr lock` again)",
        )
        self.url = url
        self.revision = revision


def _depth_args(depth: int | None) -> list[str]:
    # --depth implies --single-branch; a mirror serves every branch and tag
    return [] if depth is None else [f"--depth={depth}", "--no-single-branch"]


def _write_meta(path: Path, url: str, depth: int | None) -> None:
    """``{"url", "fetched", "depth"}``; depth is null for a full mirror."""
    target = path / META_FILE
    tmp = target.with_suffix(".tmp")
    meta = {"url": url, "fetched": time.time(), "depth": depth}
    tmp.write_text(json.dumps(meta), encoding="utf-8")
    tmp.replace(target)


def _remove_stale_locks(path: Path) -> None:
    for lock in [*path.glob("*.lock"), *(path / "refs").rglob("*.lock")]:
        with contextlib.suppress(OSError):
            lock.unlink()
