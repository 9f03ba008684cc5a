"""Processes of steps: each in its own process group, output streamed, killed as a group.

Cancellation (a run cancelled, a timeout) arrives as ``CancelledError`` while the process runs:
the group gets SIGTERM, then SIGKILL after ``grace`` seconds. The group is also sent SIGKILL
when the leader ends, so a background child a step left behind does not outlive it (GitHub
Actions' runner cleans up orphans the same way).

The child is started in a worker thread: starting a process blocks its caller until the child
has exec'd, and on the event loop those starts would follow one another while the loop has other
steps to run. A cancel that lands during the start waits for it to finish and then kills the
group, so nothing started is left behind. Its exit is watched through a pidfd registered with
the event loop (Linux ≥ 5.3) instead of asyncio's default child watcher on Python 3.11, which
starts one thread per child; where pidfds are missing, a worker thread waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Awaitable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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
            proc = await Child.start(command, cwd, env)
        except FileNotFoundError as exc:
            missing = cwd if not cwd.is_dir() else command[0]
            raise StepFailed(f"cannot start {command[0]!r}: {missing} not found") from exc
        except PermissionError as exc:
            raise StepFailed(f"cannot start {command[0]!r}: {exc.strerror}") from exc
        pipes = [proc.pipe("stdout", log), proc.pipe("stderr", log)]
        try:
            code = await proc.wait()
            _signal_group(proc.pid, signal.SIGKILL)  # orphans would hold the pipes open
            for pipe in pipes:
                await pipe.drained
        except asyncio.CancelledError:
            await _finish(terminate(proc, self.grace))
            for pipe in pipes:
                pipe.close()
            raise
        return code


class Child:
    """A started process in a new session (so its pid is its process group id)."""

    def __init__(self, popen: subprocess.Popen[bytes], outputs: dict[str, int]) -> None:
        self._loop = asyncio.get_running_loop()
        self._popen = popen
        self._outputs = outputs  # read ends of the output pipes, by stream name
        self.pid = popen.pid
        self._exit: asyncio.Future[int] = self._loop.create_future()
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # no pidfds here: a worker thread waits instead
            waiting = self._loop.run_in_executor(None, self._popen.wait)
            waiting.add_done_callback(self._settled)
        else:
            self._loop.add_reader(pidfd, self._reap, pidfd)

    @classmethod
    async def start(cls, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Child:
        """Start ``command`` from a worker thread; a cancel meanwhile kills what was started."""
        loop = asyncio.get_running_loop()
        pipes = {"stdout": os.pipe(), "stderr": os.pipe()}
        outputs = {name: read_end for name, (read_end, _) in pipes.items()}
        spawning = loop.run_in_executor(_spawner(), _spawn, command, cwd, dict(env), pipes)
        try:
            popen = await asyncio.shield(spawning)
        except asyncio.CancelledError:
            await _finish(_kill_spawned(spawning, outputs))
            raise
        except BaseException:
            _close_all(outputs)
            raise
        return cls(popen, outputs)

    def _reap(self, pidfd: int) -> None:
        # Readable pidfd: the process has exited, so wait() reaps it without blocking.
        self._loop.remove_reader(pidfd)
        os.close(pidfd)
        if not self._exit.done():
            self._exit.set_result(self._popen.wait())

    def _settled(self, waiting: asyncio.Future[int]) -> None:
        if not self._exit.done():
            self._exit.set_result(waiting.result())

    @property
    def returncode(self) -> int | None:
        return self._exit.result() if self._exit.done() else None

    async def wait(self) -> int:
        """The exit code, once the process has exited (a cancel does not stop the watch)."""
        return await asyncio.shield(self._exit)

    def pipe(self, name: str, log: LogSink) -> Pipe:
        return Pipe(self._loop, self._outputs[name], name, log)


class Pipe:
    """One output pipe of a child, read as it becomes readable and written to ``log``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, name: str, log: LogSink) -> None:
        self._loop = loop
        self._fd = fd
        self._name = name
        self._log = log
        self.drained: asyncio.Future[None] = loop.create_future()
        os.set_blocking(self._fd, False)
        loop.add_reader(self._fd, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self._fd, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self._log.write(self._name, chunk.decode(errors="replace"))
        else:
            self.close()

    def close(self) -> None:
        """Stop reading (end of output, or the step was cancelled)."""
        if self.drained.done():
            return
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self.drained.set_result(None)


def _spawn(
    command: Sequence[str], cwd: Path, env: dict[str, str], pipes: dict[str, tuple[int, int]]
) -> subprocess.Popen[bytes]:
    # Our own pipes rather than subprocess.PIPE: only their fds are used, so Popen need not
    # wrap each in a file object.
    try:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=pipes["stdout"][1],
            stderr=pipes["stderr"][1],
            start_new_session=True,
        )
    finally:
        for _, write_end in pipes.values():
            os.close(write_end)  # the child holds its copies; EOF comes when it exits


async def _kill_spawned(
    spawning: asyncio.Future[subprocess.Popen[bytes]], outputs: dict[str, int]
) -> None:
    """After a cancel during the start: let it finish, then kill and reap what it started."""
    try:
        popen = await spawning
    except Exception:  # it did not start: nothing to kill
        _close_all(outputs)
        return
    _signal_group(popen.pid, signal.SIGKILL)
    _close_all(outputs)
    await asyncio.get_running_loop().run_in_executor(_spawner(), popen.wait)


def _close_all(fds: dict[str, int]) -> None:
    for fd in fds.values():
        os.close(fd)


_SPAWNER: ThreadPoolExecutor | None = None


def _spawner() -> ThreadPoolExecutor:
    """Threads that start step processes (and reap a cancelled start); made on first use."""
    global _SPAWNER  # noqa: PLW0603 - one pool per process
    if _SPAWNER is None:
        _SPAWNER = ThreadPoolExecutor(max_workers=8, thread_name_prefix="nestr-spawn")
    return _SPAWNER


async def _finish(work: Awaitable[object]) -> None:
    """Wait for ``work`` even through further cancels (killing a group must complete)."""
    future = asyncio.ensure_future(work)
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(future)
    if not future.cancelled():
        future.exception()  # retrieved: a failure is reported by the caller's error


async def terminate(proc: Child, grace: float) -> None:
    """SIGTERM the group; SIGKILL it if the leader is still there after ``grace`` seconds."""
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), grace)
    _signal_group(proc.pid, signal.SIGKILL)
    await proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
