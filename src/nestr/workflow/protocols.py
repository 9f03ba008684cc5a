"""The vocabulary of step plugins: what a step is given, what it returns, how it runs processes.

A step type is a :data:`StepFactory` registered under the entry-point group ``nestr.steps``
(built-ins register the same way). The executor calls the factory, then ``await step.run(ctx)``
once per attempt; the step returns its outputs or raises :class:`StepFailed`. Cancellation and
timeouts arrive as ``asyncio.CancelledError`` inside ``run``: a step that starts processes does
so through ``ctx.processes`` so they are killed as a group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from nestr.errors import WorkFailed
from nestr.manifest.model import RepoSpec

Outputs = Mapping[str, str]


class StepFailed(WorkFailed):
    """A step ran and failed; ``returncode`` is the process's when there was one."""

    def __init__(self, message: str, *, returncode: int | None = None) -> None:
        super().__init__(message)
        self.returncode = returncode


class LogSink(Protocol):
    """Where a step's output goes: stored (size-capped) and published as log events."""

    def write(self, stream: str, text: str) -> None:
        """Append ``text`` to ``stream`` (``stdout`` or ``stderr``)."""
        ...


class ProcessRunner(Protocol):
    """Runs a process in its own process group, killing the group on cancel or timeout."""

    async def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: LogSink,
        shell: bool = False,
    ) -> int:
        """Run to completion and return the exit code; output goes to ``log``.

        On cancellation: SIGTERM to the group, SIGKILL after a grace period, then re-raise.
        With ``shell=True``, ``argv`` is one script for ``/bin/sh -c``.
        """
        ...


@dataclass(frozen=True)
class StepContext:
    """Everything one attempt of a step may use. ``with_`` and ``env`` are already rendered."""

    run_id: str
    step_id: str
    key: str  # instance key: "test" or "test[api]"
    attempt: int
    root: Path  # workspace root, or the manifest's directory when there is no workspace
    cwd: Path
    output_path: Path  # the file named by $NESTR_OUTPUT
    log: LogSink
    processes: ProcessRunner
    with_: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    repo: RepoSpec | None = None
    repo_dir: Path | None = None
    manifest_path: Path | None = None  # the manifest the run was started from
    state_dir: Path | None = None  # where the run's store lives


@runtime_checkable
class Step(Protocol):
    """One step type's behaviour. ``run`` returns outputs (or None) or raises StepFailed."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        """Do the step's work for one attempt."""
        ...


StepFactory = Callable[[], Step]
