"""Run one command in every selected repo of a workspace, in parallel, reporting through events.

Each child runs in the repo's directory, without a shell unless asked (so a ``;`` in an argument
stays literal), through :mod:`nestr.proc`'s group runner: in its own session and process group,
so that cancelling the run (Ctrl-C) or a ``timeout`` kills the child and everything it started,
as does the child's own end (nothing it left in the background outlives it) and nestr's death,
even by SIGKILL. Its stdout and stderr are merged into one pipe so their lines keep their order,
and every line is published as a ``nestr.workspace.foreach.output`` event as soon as it is read;
faces render those events. Without ``keep_going`` the first failure stops new repos from
starting, while the running ones finish.

Events (``repo`` is the repo name):

- ``nestr.workspace.foreach.started``  data: ``{"path", "dir", "argv"}``
- ``nestr.workspace.foreach.output``   data: ``{"line"}`` (decoded, without the newline)
- ``nestr.workspace.foreach.finished`` data: :meth:`ForeachResult.to_dict`
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nestr.events import EventBus
from nestr.events.catalog import (
    FOREACH_FINISHED,
    FOREACH_OUTPUT,
    FOREACH_STARTED,
    ForeachFinished,
    ForeachOutput,
    ForeachStarted,
)
from nestr.fanout import fan_out
from nestr.manifest.model import RepoSpec
from nestr.proc.group import GroupRunner, NotStarted, TimedOut
from nestr.proc.output import Lines
from nestr.workspace.containment import first_symlink
from nestr.workspace.record import Workspace
from nestr.workspace.status import is_checkout

EXIT_NOT_FOUND = 127  # what a shell reports for a command it cannot find
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL when a run is cancelled or times out


@dataclass(frozen=True)
class ForeachCommand:
    """What to run: ``argv`` as is, or joined by spaces and given to ``sh -c`` when ``shell``."""

    argv: tuple[str, ...]
    shell: bool = False

    def process_argv(self) -> tuple[str, ...]:
        if self.shell:
            return ("sh", "-c", " ".join(self.argv))
        return self.argv


@dataclass(frozen=True)
class ForeachResult:
    """How the command ended in one repo.

    ``returncode`` is None when the command did not run: the repo is missing, or an earlier
    failure stopped the run before this repo started (``skipped``).
    """

    name: str
    path: str
    returncode: int | None
    error: str | None = None  # why the command could not run, for people
    skipped: bool = False
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def failed(self) -> bool:
        return not self.ok and not self.skipped

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "returncode": self.returncode,
            "error": self.error,
            "skipped": self.skipped,
            "duration": round(self.duration, 3),
        }


@dataclass(frozen=True)
class ForeachReport:
    """Every repo's result, in the order the repos were given."""

    results: tuple[ForeachResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> tuple[ForeachResult, ...]:
        return tuple(r for r in self.results if r.failed)

    @property
    def skipped(self) -> tuple[ForeachResult, ...]:
        return tuple(r for r in self.results if r.skipped)


def repo_environ(workspace: Workspace, spec: RepoSpec) -> dict[str, str]:
    """The variables that tell a child which repo it runs in (docs/status-foreach.md)."""
    return {
        "NESTR_REPO_NAME": spec.name,
        "NESTR_REPO_PATH": spec.path,
        "NESTR_REPO_REVISION": spec.revision,
        "NESTR_REPO_URL": spec.url,
        "NESTR_WORKSPACE": str(workspace.root),
    }


async def foreach(
    workspace: Workspace,
    repos: Sequence[RepoSpec],
    command: ForeachCommand,
    *,
    bus: EventBus,
    jobs: int,
    keep_going: bool = False,
    environ: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> ForeachReport:
    """Run ``command`` in each of ``repos`` (at most ``jobs`` at once) and report every result.

    ``environ`` is the base environment of the children (default: this process's). Cancelling
    the returned coroutine terminates every running child's process group; so does a command
    still running ``timeout`` seconds after its start (its result says it timed out).
    """
    base_env = dict(os.environ if environ is None else environ)
    runner = GroupRunner(KILL_GRACE)
    stop = asyncio.Event()

    async def one(spec: RepoSpec) -> ForeachResult:
        if stop.is_set():
            result = ForeachResult(spec.name, spec.path, None, skipped=True)
        else:
            env = {**base_env, **repo_environ(workspace, spec)}
            result = await _run_in_repo(workspace, spec, command, env, bus, runner, timeout)
        if result.failed and not keep_going:
            stop.set()
        bus.emit(FOREACH_FINISHED, _finished(result), repo=spec.name)
        return result

    outcomes = await fan_out(list(repos), one, jobs=jobs)
    return ForeachReport(tuple(_result_of(o.item, o.value, o.error) for o in outcomes))


def _finished(result: ForeachResult) -> ForeachFinished:
    return ForeachFinished(
        name=result.name,
        path=result.path,
        returncode=result.returncode,
        error=result.error,
        skipped=result.skipped,
        seconds=round(result.duration, 3),
    )


def _result_of(
    spec: RepoSpec, value: ForeachResult | None, error: BaseException | None
) -> ForeachResult:
    if value is not None:
        return value
    return ForeachResult(spec.name, spec.path, None, error=f"{type(error).__name__}: {error}")


async def _run_in_repo(
    workspace: Workspace,
    spec: RepoSpec,
    command: ForeachCommand,
    env: Mapping[str, str],
    bus: EventBus,
    runner: GroupRunner,
    timeout: float | None,
) -> ForeachResult:
    directory = workspace.repo_dir(spec)
    refused = _refusal(workspace, spec, directory)
    if refused is not None:
        return ForeachResult(spec.name, spec.path, None, error=refused)
    argv = command.process_argv()
    data = ForeachStarted(path=spec.path, dir=str(directory), argv=list(argv))
    bus.emit(FOREACH_STARTED, data, repo=spec.name)
    start = time.perf_counter()
    lines = Lines(lambda _stream, line: _emit_line(bus, spec.name, line))
    error = None
    try:
        code = await runner.run(
            argv, cwd=directory, env=env, log=lines, merge_stderr=True, timeout=timeout
        )
    except NotStarted as exc:
        return _not_started(spec, argv[0], exc.reason)
    except TimedOut as exc:
        code, error = exc.returncode, exc.message
    lines.flush()
    return ForeachResult(spec.name, spec.path, code, error, duration=time.perf_counter() - start)


def _refusal(workspace: Workspace, spec: RepoSpec, directory: Path) -> str | None:
    """Why the command must not run in this repo, if it must not."""
    link = first_symlink(workspace.root.resolve(), spec.path)
    if link is not None:
        return f"not run: {link} is a symlink; nestr acts on no repo reached through one"
    if not is_checkout(directory):
        return f"not assembled: {directory} is not a git checkout"
    return None


def _not_started(spec: RepoSpec, program: str, exc: OSError) -> ForeachResult:
    if isinstance(exc, FileNotFoundError):
        error, code = f"command not found: {program}", EXIT_NOT_FOUND
    elif isinstance(exc, PermissionError):
        error, code = f"permission denied: {program}", 126
    else:
        error, code = f"cannot run {program}: {exc.strerror or exc}", EXIT_NOT_FOUND
    return ForeachResult(spec.name, spec.path, code, error=error)


def _emit_line(bus: EventBus, repo: str, line: str) -> None:
    bus.emit(FOREACH_OUTPUT, ForeachOutput(line=line), repo=repo)
