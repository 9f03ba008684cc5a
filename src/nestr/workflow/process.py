"""Processes of steps: each in its own process group, output streamed, killed as a group.

Cancellation (a run cancelled, a timeout) arrives as ``CancelledError`` while the process runs:
the group gets SIGTERM, then SIGKILL after ``grace`` seconds. The group is also sent SIGKILL
when the leader ends, so a background child a step left behind does not outlive it (GitHub
Actions' runner cleans up orphans the same way). Each group is watched by :mod:`nestr.procgroups`
from its start to its end, so it is ended even when nestr is killed. A group still running
``RECORD_AFTER`` seconds after its start is told to the caller (``started``), which records it
in the store: a resume or cancel after nestr died ends it from there. (Not at once: reading the
leader's start time while it is still in ``exec`` waits for the exec, and most steps are over
sooner.)

The child is started on the event loop's own thread. ``Popen`` blocks its caller until the
child has exec'd, but a worker thread does not buy that time back: each system call ``Popen``
makes releases the GIL, and taking it back means waiting for the loop to let go of it, so
starts from a pool of threads measured slower than starts on the loop (100 ``true`` steps:
about 40% more CPU time, and no less wall time). Started without an ``await``, a start is never
interrupted half-way by a cancel: the cancel lands before it (nothing started) or after it
(the group is killed). Its exit is watched through a pidfd (Linux ≥ 5.3) the event loop
watches with its output pipes (see :mod:`nestr.workflow.fdwatch`), instead of asyncio's
default child watcher on Python 3.11, which starts one thread per child; where pidfds are
missing, a worker thread waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import subprocess
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from nestr.procgroups import Group, arm, identify, marked, release, watch
from nestr.workflow.fdwatch import Watch, new_watch
from nestr.workflow.protocols import LogSink, StepFailed

CHUNK = 65536
DEFAULT_GRACE = 5.0
RECORD_AFTER = 0.05  # seconds a group runs before ``started`` is told of it


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
        started: Callable[[Group], None] | None = None,
    ) -> int:
        """Run to its end; ``started`` is told the process group if it runs a while (see
        ``RECORD_AFTER``)."""
        command = ["/bin/sh", "-c", argv[0]] if shell else list(argv)
        try:
            proc = Child.spawn(command, cwd, env)
        except FileNotFoundError as exc:
            missing = cwd if not cwd.is_dir() else command[0]
            raise StepFailed(f"cannot start {command[0]!r}: {missing} not found") from exc
        except PermissionError as exc:
            raise StepFailed(f"cannot start {command[0]!r}: {exc.strerror}") from exc
        record = None
        if started is not None:
            loop = asyncio.get_running_loop()
            record = loop.call_later(RECORD_AFTER, _tell_running, proc, started)
        pipes = [proc.pipe("stdout", log), proc.pipe("stderr", log)]
        try:
            code = await proc.wait()
            _signal_group(proc.pid, signal.SIGKILL)  # orphans would hold the pipes open
            release(proc.group)
            for pipe in pipes:
                await pipe.drained
        except asyncio.CancelledError:
            await _finish(terminate(proc, self.grace))
            for pipe in pipes:
                pipe.close()
            raise
        finally:
            if record is not None:
                record.cancel()
        return code


def _tell_running(proc: Child, started: Callable[[Group], None]) -> None:
    if proc.returncode is None:
        group = identify(proc.pid)
        if group is not None:
            started(group)


class Child:
    """A started process in a new session (so its pid is its process group id)."""

    def __init__(self, popen: subprocess.Popen[bytes], outputs: dict[str, int]) -> None:
        self._loop = asyncio.get_running_loop()
        self._popen = popen
        self._outputs = outputs  # read ends of the output pipes, by stream name
        self.pid = popen.pid
        self.group = watch(popen.pid)
        self.returncode: int | None = None
        # One future per wait(): a waiter cancelled with its caller leaves the others (and
        # the watch) alone, as asyncio.shield would, without shield's extra loop turn.
        self._waiters: list[asyncio.Future[int]] = []
        self._watch = new_watch(self._loop)
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # no pidfds here: a worker thread waits instead
            waiting = self._loop.run_in_executor(None, self._popen.wait)
            waiting.add_done_callback(lambda done: self._exited(done.result()))
        else:
            self._watch.add(pidfd, lambda: self._reap(pidfd))

    @classmethod
    async def start(cls, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Child:
        """Start ``command`` (see :meth:`spawn`; this awaitable form never suspends)."""
        return cls.spawn(command, cwd, env)

    @classmethod
    def spawn(cls, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Child:
        """Start ``command`` in a new session, its output on pipes; needs a running loop."""
        arm()
        pipes = {"stdout": os.pipe(), "stderr": os.pipe()}
        outputs = {name: read_end for name, (read_end, _) in pipes.items()}
        try:
            popen = _spawn(command, cwd, env, pipes)
        except BaseException:
            _close_all(outputs)
            raise
        return cls(popen, outputs)

    def _reap(self, pidfd: int) -> None:
        # Readable pidfd: the process has exited, so wait() reaps it without blocking.
        self._watch.remove(pidfd)
        os.close(pidfd)
        self._exited(self._popen.wait())

    def _exited(self, code: int) -> None:
        if self.returncode is not None:
            return
        self.returncode = code
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(code)
        self._waiters.clear()

    async def wait(self) -> int:
        """The exit code, once the process has exited (a cancel does not stop the watch)."""
        if self.returncode is not None:
            return self.returncode
        waiter: asyncio.Future[int] = self._loop.create_future()
        self._waiters.append(waiter)
        return await waiter

    def pipe(self, name: str, log: LogSink) -> Pipe:
        return Pipe(self._loop, self._watch, self._outputs[name], name, log)


class Pipe:
    """One output pipe of a child, read as it becomes readable and written to ``log``."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, watch: Watch, fd: int, name: str, log: LogSink
    ) -> None:
        self._watch = watch
        self._fd = fd
        self._name = name
        self._log = log
        self.drained: asyncio.Future[None] = loop.create_future()
        os.set_blocking(self._fd, False)
        watch.add(self._fd, self._read)

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
        self._watch.remove(self._fd)
        os.close(self._fd)
        self.drained.set_result(None)


def _spawn(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], pipes: dict[str, tuple[int, int]]
) -> subprocess.Popen[bytes]:
    found = _found(command[0], env)
    try:
        try:
            return _popen(command, found, cwd, env, pipes)
        except OSError:
            if found is None:
                raise
            # The file found cannot be run (e.g. an executable file that is no program): the
            # child's own search goes on to the next on PATH instead, so let it search.
            return _popen(command, None, cwd, env, pipes)
    finally:
        for _, write_end in pipes.values():
            os.close(write_end)  # the child holds its copies; EOF comes when it exits


def _popen(
    command: Sequence[str],
    executable: str | None,
    cwd: Path,
    env: Mapping[str, str],
    pipes: dict[str, tuple[int, int]],
) -> subprocess.Popen[bytes]:
    # Our own pipes rather than subprocess.PIPE: only their fds are used, so Popen need not
    # wrap each in a file object.
    return subprocess.Popen(
        command,
        executable=executable,
        cwd=cwd,
        env=marked(env),
        stdin=_devnull(),
        stdout=pipes["stdout"][1],
        stderr=pipes["stderr"][1],
        start_new_session=True,
    )


def _found(name: str, env: Mapping[str, str]) -> str | None:
    """The file ``name`` runs from, as the child's search of ``PATH`` would find it; None lets
    the child search (a name with a slash, or a relative ``PATH`` entry before the file: it
    means a directory under the child's cwd).

    The child searches by trying ``execve`` in each directory in turn, and the parent waits for
    it (vfork) through every failed try; ``access`` is cheaper than a failed ``execve``.
    """
    if "/" in name:
        return None
    for directory in env.get("PATH", os.defpath).split(os.pathsep):
        if not directory.startswith("/"):
            return None
        path = f"{directory}/{name}"
        if os.access(path, os.X_OK) and _is_file(path):
            return path
    return None  # not found: the child's own search reports it


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)  # noqa: PTH116 - no Path per candidate
    except OSError:
        return False


_DEVNULL: int | None = None


def _devnull() -> int:
    """A descriptor of /dev/null for children's stdin, opened once rather than per start."""
    global _DEVNULL  # noqa: PLW0603 - one descriptor per process
    if _DEVNULL is None:
        _DEVNULL = os.open(os.devnull, os.O_RDWR)  # as subprocess.DEVNULL opens it
    return _DEVNULL


def _close_all(fds: dict[str, int]) -> None:
    for fd in fds.values():
        os.close(fd)


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
    release(proc.group)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
