"""``git.branch``, ``git.commit``, ``git.push``, ``git.tag``: one git action in a step's repo.

Every git call goes through :func:`nestr.git.runner.run_git` (clean environment, no prompts,
own process group) with the user's ``git.timeout``; its output is written to the step's log.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nestr.errors import GitError
from nestr.git.runner import GitResult, run_git
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


async def _run(
    ctx: StepContext, args: Sequence[str], cwd: Path, *, check: bool = True
) -> GitResult:
    """``git *args`` in ``cwd``, given up after the user's ``git.timeout``."""
    return await run_git(list(args), cwd=cwd, check=check, timeout=ctx.settings.git.timeout)


async def _git(ctx: StepContext, args: Sequence[str], cwd: Path) -> GitResult:
    ctx.log.write("stdout", f"$ git {' '.join(args)}\n")
    try:
        result = await _run(ctx, args, cwd)
    except GitError as exc:
        ctx.log.write("stderr", exc.stderr)
        raise StepFailed(exc.message, returncode=exc.returncode) from None
    ctx.log.write("stdout", result.stdout)
    ctx.log.write("stderr", result.stderr)
    return result


async def _head(ctx: StepContext, cwd: Path) -> str:
    return (await _run(ctx, ["rev-parse", "HEAD"], cwd)).stdout.strip()


class GitBranchStep:
    """Create branch ``with.name`` (from ``with.start``, default HEAD) and check it out
    unless ``with.checkout`` is false. Outputs: ``branch``, ``commit``."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        cwd = _repo_dir(ctx, "git.branch")
        name = _text(ctx, "name", "git.branch")
        start = str(ctx.with_.get("start", "HEAD"))
        if ctx.with_.get("checkout", True):
            await _git(ctx, ["switch", "-c", name, start], cwd)
        else:
            await _git(ctx, ["branch", name, start], cwd)
        commit = (await _run(ctx, ["rev-parse", f"refs/heads/{name}"], cwd)).stdout.strip()
        return {"branch": name, "commit": commit}


class GitCommitStep:
    """Commit all changes (``git add -A`` unless ``with.all`` is false) with ``with.message``.

    Nothing to commit is not a failure: ``changed`` is ``false`` and ``commit`` is HEAD.
    Outputs: ``commit``, ``changed``.
    """

    async def run(self, ctx: StepContext) -> Outputs | None:
        cwd = _repo_dir(ctx, "git.commit")
        message = _text(ctx, "message", "git.commit")
        if ctx.with_.get("all", True):
            await _git(ctx, ["add", "-A"], cwd)
        staged = await _run(ctx, ["diff", "--cached", "--quiet"], cwd, check=False)
        if staged.returncode == 0 and not ctx.with_.get("allow_empty", False):
            ctx.log.write("stdout", "nothing to commit\n")
            return {"commit": await _head(ctx, cwd), "changed": "false"}
        args = ["commit", "-m", message]
        if ctx.with_.get("allow_empty", False):
            args.append("--allow-empty")
        await _git(ctx, args, cwd)
        return {"commit": await _head(ctx, cwd), "changed": "true"}


class GitPushStep:
    """Push ``with.ref`` (default: the current branch) to ``with.remote`` (default origin);
    ``with.tags: true`` pushes tags too, ``with.set_upstream: true`` sets the upstream.
    Outputs: ``remote``, ``ref``."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        cwd = _repo_dir(ctx, "git.push")
        remote = str(ctx.with_.get("remote", "origin"))
        ref = ctx.with_.get("ref")
        if not ref:
            ref = (await _run(ctx, ["rev-parse", "--abbrev-ref", "HEAD"], cwd)).stdout.strip()
        args = ["push"]
        if ctx.with_.get("set_upstream", False):
            args.append("--set-upstream")
        if ctx.with_.get("tags", False):
            args.append("--tags")
        await _git(ctx, [*args, remote, str(ref)], cwd)
        return {"remote": remote, "ref": str(ref)}


class GitTagStep:
    """Tag ``with.ref`` (default HEAD) as ``with.name``; annotated when ``with.message`` is
    set. Outputs: ``tag``, ``commit``."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        cwd = _repo_dir(ctx, "git.tag")
        name = _text(ctx, "name", "git.tag")
        ref = str(ctx.with_.get("ref", "HEAD"))
        message = ctx.with_.get("message")
        args = ["tag", "-a", name, "-m", str(message), ref] if message else ["tag", name, ref]
        await _git(ctx, args, cwd)
        commit = (await _run(ctx, ["rev-parse", f"{name}^{{commit}}"], cwd)).stdout.strip()
        return {"tag": name, "commit": commit}
