"""The vocabulary of step plugins: what a step is given, what it returns, how it runs processes.

A step type is a :data:`StepFactory` registered under the entry-point group ``nestr.steps``
(built-ins register the same way). The executor calls the factory, then ``await step.run(ctx)``
once per attempt; the step returns its outputs or raises :class:`StepFailed`. Cancellation and
timeouts arrive as ``asyncio.CancelledError`` inside ``run``: a step that starts processes does
so through ``ctx.processes`` so they are killed as a group. A step reads the user's settings
from ``ctx.settings`` (never builds its own) and reports what it does with ``ctx.emit``, which
publishes on the run's event bus, so its events reach the run's durable log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from nestr.config.settings import Settings
from nestr.errors import WorkFailed
from nestr.events.envelope import Event
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


class Emit(Protocol):
    """Publishes one event of a step on its run's bus (appended to the run's log first)."""

    def __call__(self, type: str, data: Mapping[str, Any] | None = None, **fields: Any) -> Event:
        """Publish an event of ``type`` with ``data``; ``run_id`` and ``step`` are the
        step's, ``repo`` is the step's repo unless given. Other ``fields`` (``subject``,
        ``severity``) are the :class:`~nestr.events.envelope.Event`'s. Returns the event as
        published (with its ``seq``)."""
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
    settings: Settings  # the user's settings (cache_dir, jobs, git.timeout, ...) for this run
    emit: Emit  # publishes on the run's bus, stamped with the run, the step and its repo
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

WithProblem = tuple[tuple[str, ...], str]
"""A problem of a step's ``with:``: the path of the field inside it, and what is wrong."""


class StepProvider(Protocol):
    """Step types that are not entry points: the out-of-process plugins of
    :mod:`nestr.plugins.host`. The registry asks providers about a name it does not know."""

    def offers(self, name: str) -> bool:
        """Whether step type ``name`` is this provider's (may start a plugin to find out)."""
        ...

    def factory(self, name: str) -> StepFactory:
        """The factory of step type ``name``, which :meth:`offers` said is this provider's."""
        ...

    def check(self, name: str, with_: Mapping[str, Any]) -> Sequence[WithProblem]:
        """Every problem of a step of type ``name`` with ``with_`` (as written), before a run."""
        ...
