"""The :class:`~nestr.workflow.protocols.ProcessRunner` steps are given: :mod:`nestr.proc`'s
group runner, with a command that cannot start failing its step (:class:`StepFailed`).

Everything about running, streaming and killing groups lives in :mod:`nestr.proc.group`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from nestr.proc.group import DEFAULT_GRACE, GroupRunner, NotStarted
from nestr.proc.groups import Group
from nestr.workflow.protocols import LogSink, StepFailed

__all__ = ["DEFAULT_GRACE", "GroupProcessRunner"]


class GroupProcessRunner:
    """The :class:`~nestr.workflow.protocols.ProcessRunner` of the local executor."""

    def __init__(self, grace: float = DEFAULT_GRACE) -> None:
        self._runner = GroupRunner(grace)

    async def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: LogSink,
        shell: bool = False,
        started: Callable[[Group], None] | None = None,
    ) -> int:
        """Run to its end (see :meth:`nestr.proc.group.GroupRunner.run`); ``started`` is told
        the process group if it runs a while."""
        try:
            return await self._runner.run(
                argv, cwd=cwd, env=env, log=log, shell=shell, started=started
            )
        except NotStarted as exc:
            raise StepFailed(exc.message) from exc.reason
