"""Processes of steps: each in its own process group, output streamed, killed as a group.

Cancellation (a run cancelled, a timeout) arrives as ``CancelledError`` while the process runs:
the group gets SIGTERM, then SIGKILL after ``grace`` seconds. The group is also sent SIGKILL
when the leader ends, so a background child a step left behind does not outlive it (GitHub
Actions' runner cleans up orphans the same way).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Awaitable, Mapping, Sequence
from pathlib import Path

from nestr.workflow.protocols import LogSink, StepFailed

CHUNK = 65536
DEFAULT_GRACE = 5.0


class GroupProcessRunner:
    """The :class:`~nestr.workflow.protocols.ProcessRunner` of the local executor."""

    def __init__(self, grace: float = DEFAULT_GRACE) -> None:
        self.grace = grace

    async def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: LogSink,
        shell: bool = False,
    ) -> int:
        command = ["/bin/sh", "-c", argv[0]] if shell else list(argv)
        try:
            proc = await _spawn(command, cwd, env, self.grace)
        except FileNotFoundError as exc:
            missing = cwd if not cwd.is_dir() else command[0]
            raise StepFailed(f"cannot start {command[0]!r}: {missing} not found") from exc
        except PermissionError as exc:
            raise StepFailed(f"cannot start {command[0]!r}: {exc.strerror}") from exc
        assert proc.stdout is not None
        assert proc.stderr is not None
        pumps = asyncio.gather(_pump(proc.stdout, "stdout", log), _pump(proc.stderr, "stderr", log))
        try:
            await proc.wait()
            _signal_group(proc.pid, signal.SIGKILL)  # orphans would hold the pipes open
            await pumps
        except asyncio.CancelledError:
            await _finish(terminate(proc, self.grace))
            pumps.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumps
            raise
        return proc.returncode if proc.returncode is not None else -1


async def _spawn(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], grace: float
) -> asyncio.subprocess.Process:
    """Start ``command``; a cancel while it starts still kills what was started.

    The child exists as soon as fork/exec ran, before ``create_subprocess_exec`` returns: a
    cancel landing in between would otherwise orphan it.
    """
    spawning = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    )
    try:
        return await asyncio.shield(spawning)
    except asyncio.CancelledError:
        await _finish(spawning)
        if not spawning.cancelled() and spawning.exception() is None:
            await _finish(terminate(spawning.result(), grace))
        raise


async def _finish(work: Awaitable[object]) -> None:
    """Wait for ``work`` even through further cancels (killing a group must complete)."""
    future = asyncio.ensure_future(work)
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(future)
    if not future.cancelled():
        future.exception()  # retrieved: a failed spawn is reported by the caller's error


async def _pump(stream: asyncio.StreamReader, name: str, log: LogSink) -> None:
    while chunk := await stream.read(CHUNK):
        log.write(name, chunk.decode(errors="replace"))


async def terminate(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the group; SIGKILL it if the leader is still there after ``grace`` seconds."""
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), grace)
    _signal_group(proc.pid, signal.SIGKILL)
    await proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
