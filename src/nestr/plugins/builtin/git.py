"""``git.branch``, ``git.commit``, ``git.push``, ``git.tag``: one git action in a step's repo.

Every git call goes through the porcelain :class:`nestr.git.repo.Repo` (clean environment, no
prompts, own process group) with the user's ``git.timeout``; each command and its output is
written to the step's log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nestr.errors import GitError
from nestr.git.repo import Repo
from nestr.git.runner import GitResult
from nestr.workflow.protocols import Outputs, StepContext, StepFailed


def _repo_dir(ctx: StepContext, name: str) -> Path:
    if ctx.repo_dir is None:
        raise StepFailed(f"{name} works in a repo: give the step a foreach: selector")
    return ctx.repo_dir


def _text(ctx: StepContext, key: str, name: str, default: str | None = None) -> str:
    value = ctx.with_.get(key, default)
    if value is None or str(value) == "":
        raise StepFailed(f"{name}: set `{key}` in with:")
    return str(value)


def _repo(ctx: StepContext, cwd: Path) -> Repo:
    """The step's repo; every git command it runs goes to the step's log."""

    def logged(result: GitResult) -> None:
        ctx.log.write("stdout", f"$ {' '.join(result.argv)}\n")
        ctx.log.write("stdout", result.stdout)
        ctx.log.write("stderr", result.stderr)

    return Repo(cwd, timeout=ctx.settings.git.timeout, on_run=logged)


@contextmanager
def _failing_step(ctx: StepContext) -> Iterator[None]:
    """A failed git command fails the step, with git's stderr in the step's log."""
    try:
        yield
    except GitError as exc:
        ctx.log.write("stdout", f"$ {' '.join(exc.argv)}\n")
        ctx.log.write("stderr", exc.stderr)
        raise StepFailed(exc.message, returncode=exc.returncode) from None


class GitBranchStep:
    """Create branch ``with.name`` (from ``with.start``, default HEAD) and check it out
    unless ``with.checkout`` is false. Outputs: ``branch``, ``commit``."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        repo = _repo(ctx, _repo_dir(ctx, "git.branch"))
        name = _text(ctx, "name", "git.branch")
        start = str(ctx.with_.get("start", "HEAD"))
        with _failing_step(ctx):
            if ctx.with_.get("checkout", True):
                await repo.switch(name, create=True, start=start)
            else:
                await repo.create_branch(name, start)
            commit = await repo.resolve(f"refs/heads/{name}")
        return {"branch": name, "commit": commit or ""}


class GitCommitStep:
    """Commit all changes (``git add -A`` unless ``with.all`` is false) with ``with.message``.

    Nothing to commit is not a failure: ``changed`` is ``false`` and ``commit`` is HEAD.
    Outputs: ``commit``, ``changed``.
    """

    async def run(self, ctx: StepContext) -> Outputs | None:
        repo = _repo(ctx, _repo_dir(ctx, "git.commit"))
        message = _text(ctx, "message", "git.commit")
        allow_empty = bool(ctx.with_.get("allow_empty", False))
        with _failing_step(ctx):
            if ctx.with_.get("all", True):
                await repo.add(every=True)
            if not allow_empty and not await repo.has_staged_changes():
                ctx.log.write("stdout", "nothing to commit\n")
                return {"commit": await repo.head() or "", "changed": "false"}
            commit = await repo.commit(message, allow_empty=allow_empty, quiet=False)
        return {"commit": commit, "changed": "true"}


class GitPushStep:
    """Push ``with.ref`` (default: the current branch) to ``with.remote`` (default origin);
    ``with.tags: true`` pushes tags too, ``with.set_upstream: true`` sets the upstream.
    Outputs: ``remote``, ``ref``."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        repo = _repo(ctx, _repo_dir(ctx, "git.push"))
        remote = str(ctx.with_.get("remote", "origin"))
        with _failing_step(ctx):
            ref = str(ctx.with_.get("ref") or await repo.branch() or "HEAD")
            await repo.push(
                remote,
                [ref],
                set_upstream=bool(ctx.with_.get("set_upstream", False)),
                tags=bool(ctx.with_.get("tags", False)),
            )
        return {"remote": remote, "ref": ref}


class GitTagStep:
    """Tag ``with.ref`` (default HEAD) as ``with.name``; annotated when ``with.message`` is
    set. Outputs: ``tag``, ``commit``."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        repo = _repo(ctx, _repo_dir(ctx, "git.tag"))
        name = _text(ctx, "name", "git.tag")
        ref = str(ctx.with_.get("ref", "HEAD"))
        message = ctx.with_.get("message")
        with _failing_step(ctx):
            commit = await repo.tag(name, ref, message=str(message) if message else None)
        return {"tag": name, "commit": commit}
