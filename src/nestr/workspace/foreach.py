"""Run one command in every selected repo of a workspace, in parallel, reporting through events.

Each child runs in the repo's directory, without a shell unless asked (so a ``;`` in an argument
stays literal), in its own session and process group so that cancelling the run (Ctrl-C) kills
the child and everything it started (and, through :mod:`nestr.procgroups`, so does nestr's own
death, even by SIGKILL). Its stdout and stderr are merged into one pipe so their
lines keep their order, and every line is published as a ``nestr.workspace.foreach.output``
event as soon as it is read; faces render those events. Without ``keep_going`` the first failure
stops new repos from starting, while the running ones finish.

Events (``repo`` is the repo name):

- ``nestr.workspace.foreach.started``  data: ``{"path", "dir", "argv"}``
- ``nestr.workspace.foreach.output``   data: ``{"line"}`` (decoded, without the newline)
- ``nestr.workspace.foreach.finished`` data: :meth:`ForeachResult.to_dict`
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from nestr.procgroups import arm, marked, release, watch
from nestr.workspace.containment import first_symlink
from nestr.workspace.record import Workspace
from nestr.workspace.status import is_checkout

EXIT_NOT_FOUND = 127  # what a shell reports for a command it cannot find
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL when a run is cancelled
_CHUNK = 65536


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
) -> ForeachReport:
    """Run ``command`` in each of ``repos`` (at most ``jobs`` at once) and report every result.

    ``environ`` is the base environment of the children (default: this process's). Cancelling
    the returned coroutine terminates every running child's process group.
    """
    base_env = dict(os.environ if environ is None else environ)
    stop = asyncio.Event()

    async def one(spec: RepoSpec) -> ForeachResult:
        if stop.is_set():
            result = ForeachResult(spec.name, spec.path, None, skipped=True)
        else:
            env = {**base_env, **repo_environ(workspace, spec)}
            result = await _run_in_repo(workspace, spec, command, env, bus)
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
) -> ForeachResult:
    directory = workspace.repo_dir(spec)
    link = first_symlink(workspace.root.resolve(), spec.path)
    if link is not None:
        message = f"not run: {link} is a symlink; nestr acts on no repo reached through one"
        return ForeachResult(spec.name, spec.path, None, error=message)
    if not is_checkout(directory):
        message = f"not assembled: {directory} is not a git checkout"
        return ForeachResult(spec.name, spec.path, None, error=message)
    argv = command.process_argv()
    data = ForeachStarted(path=spec.path, dir=str(directory), argv=list(argv))
    bus.emit(FOREACH_STARTED, data, repo=spec.name)
    start = time.perf_counter()
    arm()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=directory,
            env=marked(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return _not_started(spec, argv[0], exc)
    group = watch(proc.pid)
    try:
        code = await _follow(proc, spec.name, bus)
    finally:
        release(group)
    return ForeachResult(spec.name, spec.path, code, duration=time.perf_counter() - start)


def _not_started(spec: RepoSpec, program: str, exc: OSError) -> ForeachResult:
    if isinstance(exc, FileNotFoundError):
        error, code = f"command not found: {program}", EXIT_NOT_FOUND
    elif isinstance(exc, PermissionError):
        error, code = f"permission denied: {program}", 126
    else:
        error, code = f"cannot run {program}: {exc.strerror or exc}", EXIT_NOT_FOUND
    return ForeachResult(spec.name, spec.path, code, error=error)


async def _follow(proc: asyncio.subprocess.Process, repo: str, bus: EventBus) -> int:
    """Publish the child's lines as they come; on cancellation kill its process group."""
    try:
        assert proc.stdout is not None
        await _publish_lines(proc.stdout, repo, bus)
        return await proc.wait()
    except asyncio.CancelledError:
        await _terminate_group(proc)
        raise


async def _publish_lines(stream: asyncio.StreamReader, repo: str, bus: EventBus) -> None:
    # read() in chunks rather than readline(): a line longer than the reader's limit must not
    # end the run with LimitOverrunError.
    pending = b""
    while chunk := await stream.read(_CHUNK):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            _emit_line(bus, repo, line)
    if pending:
        _emit_line(bus, repo, pending)


def _emit_line(bus: EventBus, repo: str, raw: bytes) -> None:
    line = raw.decode(errors="replace").removesuffix("\r")
    bus.emit(FOREACH_OUTPUT, ForeachOutput(line=line), repo=repo)


async def _terminate_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it is still there after a grace."""
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(proc.wait()), KILL_GRACE)
    # Grandchildren may outlive the leader; the group is killed either way.
    _signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        await proc.wait()


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
