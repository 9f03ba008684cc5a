"""The one runner of child processes: each in its own process group, output streamed, killed
as a group. Workflow steps and ``nestr foreach`` commands run through it (plugins will too).

Cancellation (a run cancelled, Ctrl-C, a step's timeout) arrives as ``CancelledError`` while
the process runs: the group gets SIGTERM, then SIGKILL after ``grace`` seconds. A ``timeout``
given to :meth:`GroupRunner.run` does the same and raises :class:`TimedOut`. The group is also
sent SIGKILL when the leader ends, so a background child the command left behind does not
outlive it (GitHub Actions' runner cleans up orphans the same way), nor holds its output pipe
open. Each group is watched by :mod:`nestr.proc.groups` from its start to its end, so it is
ended even when nestr is killed. A group still running ``RECORD_AFTER`` seconds after its start
is told to the caller (``started``), which may record it (the workflow store does): a resume or
cancel after nestr died ends it from there. (Not at once: reading the leader's start time while
it is still in ``exec`` waits for the exec, and most steps are over sooner.)

The child is started on the event loop's own thread. ``Popen`` blocks its caller until the
child has exec'd, but a worker thread does not buy that time back: each system call ``Popen``
makes releases the GIL, and taking it back means waiting for the loop to let go of it, so
starts from a pool of threads measured slower than starts on the loop (100 ``true`` steps:
about 40% more CPU time, and no less wall time). Started without an ``await``, a start is never
interrupted half-way by a cancel: the cancel lands before it (nothing started) or after it
(the group is killed). Its exit is watched through a pidfd (Linux ≥ 5.3) the event loop
watches with its output pipes (see :mod:`nestr.proc.fdwatch`), instead of asyncio's default
child watcher on Python 3.11, which starts one thread per child; where pidfds are missing, a
worker thread waits for it.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from nestr.errors import WorkFailed
from nestr.observability.tracing import span
from nestr.proc.fdwatch import Watch, new_watch
from nestr.proc.groups import Group, arm, identify, kill_group, release, signal_group, watch
from nestr.proc.output import OutputSink
from nestr.proc.spawn import spawn

CHUNK = 65536
DEFAULT_GRACE = 5.0
RECORD_AFTER = 0.05  # seconds a group runs before ``started`` is told of it
_decode = codecs.utf_8_decode


class NotStarted(WorkFailed):
    """The command could not be started; ``reason`` is the error of the start."""

    def __init__(self, program: str, cwd: Path, reason: OSError) -> None:
        if isinstance(reason, FileNotFoundError):
            missing = cwd if not cwd.is_dir() else program
            message = f"cannot start {program!r}: {missing} not found"
        else:
            message = f"cannot start {program!r}: {reason.strerror or reason}"
        super().__init__(message)
        self.program = program
        self.reason = reason


class TimedOut(WorkFailed):
    """The command ran longer than its ``timeout`` and its group was ended."""

    def __init__(self, seconds: float, returncode: int) -> None:
        super().__init__(f"timed out after {seconds:g}s")
        self.seconds = seconds
        self.returncode = returncode  # as it ended once signalled (negative: by that signal)


class GroupRunner:
    """Runs commands to their end, each in a process group of its own (see the module)."""

    def __init__(self, grace: float = DEFAULT_GRACE) -> None:
        self.grace = grace

    async def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: OutputSink,
        shell: bool = False,
        merge_stderr: bool = False,
        timeout: float | None = None,
        started: Callable[[Group], None] | None = None,
    ) -> int:
        """Run to its end and return the exit code; its output goes to ``log``.

        ``shell``: ``argv[0]`` is a script for ``/bin/sh -c``. ``merge_stderr``: stderr goes to
        the stdout pipe (one stream, lines in the order written). ``started`` is told the group
        if it runs a while (see ``RECORD_AFTER``). Raises :class:`NotStarted` or
        :class:`TimedOut`; a cancel ends the group, then propagates. When tracing, the process
        runs in a ``process`` span, whose ``TRACEPARENT`` it is given.
        """
        command = ["/bin/sh", "-c", argv[0]] if shell else list(argv)
        with span("process", **{"process.executable.name": Path(command[0]).name}) as current:
            code = await self._run(command, cwd, env, log, merge_stderr, timeout, started)
            current.set("process.exit.code", code)
            return code

    async def _run(
        self,
        command: list[str],
        cwd: Path,
        env: Mapping[str, str],
        log: OutputSink,
        merge_stderr: bool,
        timeout: float | None,
        started: Callable[[Group], None] | None,
    ) -> int:
        try:
            proc = Child.spawn(command, cwd, env, merge_stderr=merge_stderr)
        except OSError as exc:
            raise NotStarted(command[0], cwd, exc) from exc
        loop = asyncio.get_running_loop()
        record = None
        if started is not None:
            record = loop.call_later(RECORD_AFTER, _tell_running, proc, started)
        expiry = None if timeout is None else _Expiry(loop, proc, timeout, self.grace)
        pipes = proc.pipes(log)
        try:
            code = await proc.wait()
            kill_group(proc.pid)  # orphans would hold the pipes open
            release(proc.group)
            for pipe in pipes:
                await pipe.drained
        except asyncio.CancelledError:
            await finish(terminate(proc, self.grace))
            for pipe in pipes:
                pipe.close()
            raise
        finally:
            if record is not None:
                record.cancel()
            if expiry is not None:
                expiry.cancel()
        if expiry is not None and expiry.fired:
            raise TimedOut(expiry.seconds, code)
        return code


def _tell_running(proc: Child, started: Callable[[Group], None]) -> None:
    if proc.returncode is None:
        group = identify(proc.pid)
        if group is not None:
            started(group)


class _Expiry:
    """A timeout of ``seconds``: once it runs out, SIGTERM to the group, and SIGKILL after
    ``grace`` unless the runner saw the leader end first (it kills the group then, and
    cancels this)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, proc: Child, seconds: float, grace: float
    ) -> None:
        self._loop, self._proc, self._grace = loop, proc, grace
        self.seconds = seconds
        self.fired = False
        self._timer = loop.call_later(seconds, self._fire)

    def _fire(self) -> None:
        if self._proc.returncode is not None:  # it ended in time; the runner is on its way
            return
        self.fired = True
        signal_group(self._proc.pid, signal.SIGTERM)
        self._timer = self._loop.call_later(self._grace, kill_group, self._proc.pid)

    def cancel(self) -> None:
        """The leader has ended (or the run was cancelled): nothing more to signal."""
        self._timer.cancel()


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
    def spawn(
        cls,
        command: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        *,
        merge_stderr: bool = False,
    ) -> Child:
        """Start ``command`` in a new session, its output on pipes; needs a running loop."""
        arm()
        names = ("stdout",) if merge_stderr else ("stdout", "stderr")
        pipes = {name: os.pipe() for name in names}
        outputs = {name: read_end for name, (read_end, _) in pipes.items()}
        try:
            popen = spawn(command, cwd, env, pipes)
        except BaseException:
            for fd in outputs.values():
                os.close(fd)
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

    def pipes(self, log: OutputSink) -> list[Pipe]:
        """Start reading every output pipe into ``log``."""
        return [Pipe(self._loop, self._watch, fd, name, log) for name, fd in self._outputs.items()]


class Pipe:
    """One output pipe of a child, read as it becomes readable and written to ``log``."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, watch: Watch, fd: int, name: str, log: OutputSink
    ) -> None:
        self._watch = watch
        self._fd = fd
        self._name = name
        self._log = log
        self._cut = b""  # the start of a character the last read cut in two
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
        if not chunk:
            if self._cut:
                self._log.write(self._name, _decode(self._cut, "replace", True)[0])
            self.close()
            return
        if self._cut:
            chunk, self._cut = self._cut + chunk, b""
        text, used = _decode(chunk, "replace", False)
        if used < len(chunk):
            self._cut = chunk[used:]
        if text:
            self._log.write(self._name, text)

    def close(self) -> None:
        """Stop reading (end of output, or the command was cancelled)."""
        if self.drained.done():
            return
        self._watch.remove(self._fd)
        os.close(self._fd)
        self.drained.set_result(None)


async def finish(work: Awaitable[object]) -> None:
    """Wait for ``work`` even through further cancels (killing a group must complete)."""
    future = asyncio.ensure_future(work)
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(future)
    if not future.cancelled():
        future.exception()  # retrieved: a failure is reported by the caller's error


async def terminate(proc: Child, grace: float) -> None:
    """SIGTERM the group; SIGKILL it if the leader is still there after ``grace`` seconds."""
    signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), grace)
    kill_group(proc.pid)
    await proc.wait()
    release(proc.group)
