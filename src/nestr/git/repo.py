"""The git porcelain nestr uses on one repository: HEAD, branch, switch, commit, push, stash,
status.

Every method is one git process through :mod:`nestr.git.runner` (clean environment, no prompts,
own process group) with the repository's timeout (``git.timeout``), so sync, the ``git.*``
workflow steps and workspaces ask git the same questions the same way. ``git status
--porcelain=v2 --branch -z`` is read by one parser, :func:`parse_status`; a read-only status of
many repositories at once, without an event loop, is :func:`read_statuses`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nestr.errors import GitError, WorkFailed
from nestr.git.runner import DEFAULT_TIMEOUT, GitResult, run_git, run_git_parallel

STATUS_ARGS = ("status", "--porcelain=v2", "-z", "--branch")
# what `nestr status` runs: read-only, so git leaves the index alone (no optional locks)
READ_ONLY_STATUS_ARGS = ("--no-optional-locks", *STATUS_ARGS)


@dataclass(frozen=True)
class Changes:
    """How many paths differ: staged in the index, unstaged in the work tree, untracked, conflicted.

    A path both staged and modified again counts once in each of ``staged`` and ``unstaged``.
    """

    staged: int = 0
    unstaged: int = 0
    untracked: int = 0
    conflicted: int = 0

    @property
    def total(self) -> int:
        return self.staged + self.unstaged + self.untracked + self.conflicted

    @property
    def dirty(self) -> bool:
        return self.total > 0


@dataclass(frozen=True)
class GitStatus:
    """What one ``git status --porcelain=v2 --branch`` call says about a repository."""

    commit: str | None  # None before the first commit
    branch: str | None  # None when HEAD is detached
    upstream: str | None = None
    ahead: int | None = None  # None without an upstream (or when it is gone)
    behind: int | None = None
    changes: Changes = field(default_factory=Changes)
    paths: frozenset[str] = frozenset()  # every path reported (renames: the new path)


def parse_status(output: str) -> GitStatus:
    """Parse ``git status --porcelain=v2 --branch -z`` output (pure; see git-status(1))."""
    headers: dict[str, str] = {}
    counts = {"staged": 0, "unstaged": 0, "untracked": 0, "conflicted": 0}
    paths: set[str] = set()
    entries = iter(output.split("\0"))
    for entry in entries:
        kind = entry[:1]
        if kind == "#":
            key, _, value = entry[2:].partition(" ")
            headers[key] = value
        elif kind in {"1", "2"}:
            _count_tracked(entry[2:4], counts)
            paths.add(entry.split(" ", 8 if kind == "1" else 9)[-1])
            if kind == "2":
                next(entries, None)  # with -z a rename's original path is its own entry
        elif kind == "u":
            counts["conflicted"] += 1
            paths.add(entry.split(" ", 10)[-1])
        elif kind == "?":
            counts["untracked"] += 1
            paths.add(entry[2:])
    return _status(headers, Changes(**counts), frozenset(paths))


def _count_tracked(xy: str, counts: dict[str, int]) -> None:
    # X is the index against HEAD, Y the work tree against the index; "." means unchanged.
    if xy[:1] not in {".", ""}:
        counts["staged"] += 1
    if xy[1:2] not in {".", ""}:
        counts["unstaged"] += 1


def _status(headers: dict[str, str], changes: Changes, paths: frozenset[str]) -> GitStatus:
    oid = headers.get("branch.oid")
    head = headers.get("branch.head")
    ahead = behind = None
    if "branch.ab" in headers:
        plus, minus = headers["branch.ab"].split()
        ahead, behind = int(plus.lstrip("+")), int(minus.lstrip("-"))
    return GitStatus(
        commit=None if oid in {None, "(initial)"} else oid,
        branch=None if head in {None, "(detached)"} else head,
        upstream=headers.get("branch.upstream"),
        ahead=ahead,
        behind=behind,
        changes=changes,
        paths=paths,
    )


def read_statuses(
    paths: Sequence[Path], *, jobs: int, timeout: float = DEFAULT_TIMEOUT
) -> list[GitStatus | WorkFailed]:
    """The status of each repository, read in parallel without an event loop, in order.

    One read-only git process per repository (``--no-optional-locks``); a repository git
    cannot read is its :class:`WorkFailed` in its slot.
    """
    calls = [(READ_ONLY_STATUS_ARGS, path) for path in paths]
    results = run_git_parallel(calls, jobs=jobs, timeout=timeout, guarded=False)
    return [r if isinstance(r, WorkFailed) else parse_status(r.stdout) for r in results]


class Repo:
    """One repository and the git commands nestr runs in it, each with ``timeout``.

    ``on_run`` sees every git call that succeeded (a workflow step writes them to its log); a
    failed call raises :class:`~nestr.errors.GitError` with argv, exit code and stderr.
    """

    def __init__(
        self,
        path: Path,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        on_run: Callable[[GitResult], None] | None = None,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.on_run = on_run

    async def run(self, *args: str, check: bool = True) -> GitResult:
        """``git *args`` in the repository (the porcelain's one way to start git)."""
        result = await run_git(args, cwd=self.path, timeout=self.timeout, check=check)
        if self.on_run is not None and result.returncode == 0:
            self.on_run(result)
        return result

    async def resolve(self, rev: str) -> str | None:
        """The object id ``rev`` names, or None when it names nothing."""
        found = await self.run("rev-parse", "-q", "--verify", rev, check=False)
        return (found.stdout.strip() or None) if found.returncode == 0 else None

    async def head(self) -> str | None:
        """The commit HEAD is on (None before the first commit)."""
        return await self.resolve("HEAD")

    async def branch(self) -> str | None:
        """The branch checked out, or None when HEAD is detached."""
        out = await self.run("symbolic-ref", "-q", "--short", "HEAD", check=False)
        return out.stdout.strip() or None

    async def git_dir(self) -> Path:
        """The repository's git directory (absolute; ``.git`` or where a ``.git`` file points)."""
        found = await self.run("rev-parse", "--absolute-git-dir")
        return Path(found.stdout.strip())

    async def switch(self, branch: str, *, create: bool = False, start: str | None = None) -> None:
        """Check out ``branch``; with ``create``, a new one made from ``start`` (default HEAD)."""
        args = ["switch", "-q", *(["-c"] if create else []), branch]
        await self.run(*args, *([start] if start is not None else []))

    async def create_branch(self, branch: str, start: str = "HEAD") -> None:
        """Make ``branch`` at ``start`` without checking it out."""
        await self.run("branch", branch, start)

    async def add(self, paths: Iterable[str] = (), *, every: bool = False) -> None:
        """Stage ``paths`` (forced past ``.gitignore``: nestr names them), or every change."""
        if every:
            await self.run("add", "-A")
        else:
            await self.run("add", "-f", "--", *paths)

    async def has_staged_changes(self) -> bool:
        """Whether the index differs from HEAD."""
        return (await self.run("diff", "--cached", "--quiet", check=False)).returncode != 0

    async def commit(
        self,
        message: str,
        *,
        only: Sequence[str] | None = None,
        allow_empty: bool = False,
        no_verify: bool = False,
        quiet: bool = True,
    ) -> str:
        """Commit the index, or with ``only`` just those paths as they are in the work tree
        (``--only``: anything else staged stays staged); returns the new HEAD."""
        args = ["commit", *(["-q"] if quiet else []), "-m", message]
        args += ["--allow-empty"] if allow_empty else []
        args += ["--no-verify"] if no_verify else []
        args += ["--only", "--", *only] if only is not None else []
        await self.run(*args)
        return (await self.run("rev-parse", "HEAD")).stdout.strip()

    async def push(
        self,
        remote: str,
        refspecs: Sequence[str],
        *,
        set_upstream: bool = False,
        tags: bool = False,
    ) -> None:
        """Push ``refspecs`` (and tags, with ``tags``) to ``remote``."""
        args = ["push"]
        if set_upstream:
            args.append("--set-upstream")
        if tags:
            args.append("--tags")
        await self.run(*args, remote, *refspecs)

    async def tag(self, name: str, ref: str = "HEAD", *, message: str | None = None) -> str:
        """Tag ``ref`` as ``name`` (annotated with a ``message``); returns the tagged commit."""
        args = ["tag", "-a", name, "-m", message, ref] if message else ["tag", name, ref]
        await self.run(*args)
        return (await self.run("rev-parse", f"refs/tags/{name}^{{commit}}")).stdout.strip()

    async def stash(self, message: str) -> str:
        """Stash tracked changes; returns the stash commit id."""
        await self.run("stash", "push", "--quiet", "-m", message)
        return (await self.run("rev-parse", "refs/stash")).stdout.strip()

    async def stash_pop(self) -> bool:
        """Re-apply the last stash; False (stash kept, conflicts in the tree) if it conflicts."""
        try:
            await self.run("stash", "pop", "--quiet")
        except GitError:
            return False
        return True

    async def status(
        self,
        *,
        untracked: bool = True,
        submodules: bool = True,
        paths: Sequence[str] = (),
        headers: bool = True,
    ) -> GitStatus:
        """Branch, commit, upstream and changes (of ``paths`` only, when given) in one call.

        ``headers=False`` skips the branch headers (commit, branch, ahead/behind counts, which
        git has to walk history for): for a caller that wants the changed paths only.
        """
        args = list(STATUS_ARGS if headers else STATUS_ARGS[:-1])
        if not untracked:
            args.append("--untracked-files=no")
        elif paths:
            args.append("--untracked-files=all")  # each path as named, not its directory
        if not submodules:
            args.append("--ignore-submodules")
        if paths:
            args += ["--no-renames", "--", *paths]
        return parse_status((await self.run(*args)).stdout)
