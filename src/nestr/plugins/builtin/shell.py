"""``shell``: what a ``run:`` step means — one process (argv, or a ``/bin/sh -c`` script)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from nestr.workflow.protocols import Outputs, StepContext, StepFailed


class ShellStep:
    """Run ``with.argv`` (a list), ``with.script`` (via /bin/sh), or ``with.command`` (split).

    A non-zero exit fails the step with the exit code and the tail of its output.
    """

    async def run(self, ctx: StepContext) -> Outputs | None:
        argv, shell = _command(ctx)
        code = await ctx.processes.run(argv, cwd=ctx.cwd, env=ctx.env, log=ctx.log, shell=shell)
        if code != 0:
            shown = argv[0] if shell else shlex.join(argv)
            raise StepFailed(f"`{_short(shown)}` exited {code}", returncode=code)
        return None


def _command(ctx: StepContext) -> tuple[Sequence[str], bool]:
    with_ = ctx.with_
    if "argv" in with_:
        argv = [str(a) for a in with_["argv"]]
        if not argv:
            raise StepFailed("shell step: `argv` is empty")
        return argv, False
    if "script" in with_:
        return [str(with_["script"])], True
    if "command" in with_:
        command = str(with_["command"])
        return ([command], True) if with_.get("shell") else (shlex.split(command), False)
    raise StepFailed("shell step: set `argv`, `script` or `command` in with:")


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
