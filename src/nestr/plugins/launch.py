"""One running plugin process: started with a handshake, its output routed, stopped as a group.

The plugin is started through :func:`nestr.proc.spawn.spawn` (its own session, stdin from
/dev/null, the guardian's mark) and watched by the guardian of :mod:`nestr.proc.groups` from
its start, so its whole process group ends when nestr does, even by SIGKILL. Its first stdout
line is the handshake (:mod:`nestr.plugin.handshake`); everything it writes afterwards, on
stdout or stderr, goes to the logs of the steps it is executing at the time (to a short
backlog kept for error messages when it executes none).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import secrets
import select
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nestr.errors import WorkFailed
from nestr.plugin import handshake
from nestr.proc.groups import arm, kill_group, release, signal_group, watch
from nestr.proc.spawn import spawn
from nestr.workflow.protocols import LogSink

START_TIMEOUT = 30.0  # seconds for the handshake line: a Python plugin imports gRPC first
STOP_GRACE = 3.0  # seconds between SIGTERM and SIGKILL when a plugin is stopped
BACKLOG = 40  # output lines kept for error messages
SETTLE_LIMIT = 0.2  # seconds a finished step waits for the plugin's last output lines


class PluginError(WorkFailed):
    """A plugin could not be started, broke the protocol, or died."""


@dataclass(frozen=True)
class Launch:
    """How to start a plugin: its name, its command, and where nestr found it."""

    name: str
    argv: tuple[str, ...]
    origin: str  # "config", "entry point nestr.plugins", "PATH"


class PluginProcess:
    """A started plugin: its process, its address, the secret and its output routing."""

    def __init__(
        self,
        launch: Launch,
        *,
        cwd: Path,
        start_timeout: float = START_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.launch = launch
        self._env = dict(env or {})
        self.secret = secrets.token_hex(32)
        self.backlog: collections.deque[str] = collections.deque(maxlen=BACKLOG)
        self._routes: dict[int, tuple[asyncio.AbstractEventLoop, LogSink]] = {}
        self._lock = threading.Lock()
        self._open: dict[int, bool] = {}  # reader fd -> idle (waiting in read) or busy
        self.process, self.handshake = self._start(cwd, start_timeout)
        self.metadata = ((handshake.SECRET_METADATA, self.secret),)
        self._channels: dict[int, Any] = {}
        self._stubs: dict[tuple[int, Any], tuple[Any, Any]] = {}
        # Validate's answers by (step type, with: as JSON), for this process's life
        self.validated: dict[tuple[str, str], list[tuple[tuple[str, ...], str]]] = {}

    # --- start ------------------------------------------------------------------------------

    def _start(
        self, cwd: Path, timeout: float
    ) -> tuple[subprocess.Popen[bytes], handshake.Handshake]:
        arm()
        env = {
            **os.environ,
            **self._env,
            handshake.VERSIONS_ENV: ",".join(map(str, handshake.SUPPORTED_VERSIONS)),
            handshake.SECRET_ENV: self.secret,
        }
        pipes = {"stdout": os.pipe(), "stderr": os.pipe()}
        try:
            process = spawn(self.launch.argv, cwd, env, pipes)
        except OSError as exc:
            for read_end, _ in pipes.values():
                os.close(read_end)
            raise PluginError(
                f"plugin {self.launch.name}: cannot start `{self.launch.argv[0]}`: {exc.strerror}",
                hint=f"found through {self.launch.origin}; check that the command exists",
            ) from None
        watch(process.pid)
        stdout, stderr = pipes["stdout"][0], pipes["stderr"][0]
        errors = self._reader(stderr, "stderr", b"")
        try:
            line, rest, at_eof = _first_line(stdout, timeout)
            if line is None:
                when = "before it ended" if at_eof else f"within {timeout:g} s"
                if at_eof:  # it closed stdout: most likely it ended; see how
                    _ended_within(process, 1.0)
                self._end(process)
                errors.join(1.0)  # what the plugin said as it died
                raise PluginError(
                    f"plugin {self.launch.name} printed no handshake line {when}"
                    f" ({_ended(process)}){self._said()}",
                    hint="a plugin prints `nestr-plugin|1|unix|/path/to.sock` once it listens",
                )
            found = self._agreed(line)
        except PluginError:
            if process.returncode is None:
                self._end(process)
            os.close(stdout)
            raise
        self._reader(stdout, "stdout", rest)
        return process, found

    def _agreed(self, line: bytes) -> handshake.Handshake:
        name = self.launch.name
        try:
            found = handshake.parse(line.decode("utf-8", "replace"))
        except handshake.HandshakeError as exc:
            raise PluginError(f"plugin {name}: bad handshake: {exc}") from None
        if found.version not in handshake.SUPPORTED_VERSIONS:
            ours = ", ".join(map(str, handshake.SUPPORTED_VERSIONS))
            raise PluginError(
                f"plugin {name} speaks plugin protocol version {found.version}; this nestr"
                f" speaks {ours}",
                hint="use a release of the plugin for this protocol version, or upgrade nestr",
            )
        return found

    def _said(self) -> str:
        lines = "".join(self.backlog).strip()
        return f"; its output:\n{lines}" if lines else ""

    # --- output routing ---------------------------------------------------------------------

    def _reader(self, fd: int, stream: str, start: bytes) -> threading.Thread:
        thread = threading.Thread(
            target=self._read, args=(fd, stream, start), name=f"plugin-{stream}", daemon=True
        )
        thread.start()
        return thread

    def _read(self, fd: int, stream: str, pending: bytes) -> None:
        self._open[fd] = False  # busy: read, not yet delivered
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while True:
                lines = pending.split(b"\n")
                pending = lines.pop()
                for line in lines:
                    self._deliver(stream, line.decode("utf-8", "replace") + "\n")
                self._open[fd] = True
                chunk = pipe.read(65536)
                self._open[fd] = False
                if not chunk:
                    del self._open[fd]
                    break
                pending += chunk
        if pending:
            self._deliver(stream, pending.decode("utf-8", "replace") + "\n")

    def _deliver(self, stream: str, text: str) -> None:
        with self._lock:
            routes = list(self._routes.values())
            self.backlog.append(text)
        for loop, sink in routes:
            loop.call_soon_threadsafe(sink.write, stream, text)

    async def settle(self, limit: float = SETTLE_LIMIT) -> None:
        """Wait (at most ``limit`` seconds) until what the plugin wrote so far has been read and
        handed to the step logs: a line written just before a result would otherwise miss the
        step it belongs to, since the result travels on another channel than the output."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self._quiet():  # noqa: ASYNC110 - a pipe and a thread, no event
            await asyncio.sleep(0.001)
        await asyncio.sleep(0)  # the deliveries scheduled on this loop run first

    def _quiet(self) -> bool:
        """No reader holds undelivered output and no pipe has unread bytes."""
        state = dict(self._open)
        if not all(state.values()):
            return False
        try:
            readable, _, _ = select.select(list(state), [], [], 0)
        except (OSError, ValueError):  # a pipe closed meanwhile: its reader is done
            return True
        return not readable

    @contextmanager
    def routed(self, sink: LogSink) -> Iterator[None]:
        """While the block runs, the plugin's output also goes to ``sink`` (a step's log)."""
        key = id(sink)
        with self._lock:
            self._routes[key] = (asyncio.get_running_loop(), sink)
        try:
            yield
        finally:
            with self._lock:
                self._routes.pop(key, None)

    # --- state and stop ---------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def exited(self, timeout: float) -> int | None:
        """The exit code once the process has ended within ``timeout`` seconds, else None."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def describe_exit(self) -> str:
        return _ended(self.process)

    def channel(self) -> Any:
        """The ``grpc.aio`` channel of the running event loop (one per loop)."""
        import grpc

        loop = asyncio.get_running_loop()
        found = self._channels.get(id(loop))
        if found is None or found[0] is not loop:
            found = (loop, grpc.aio.insecure_channel(self.handshake.target))
            self._channels[id(loop)] = found
        return found[1]

    def stub(self, kind: Any) -> Any:
        """A stub of class ``kind`` over :meth:`channel`, made once per loop (a stub builds a
        callable per method, which a warm call need not pay again)."""
        key = (id(asyncio.get_running_loop()), kind)
        channel = self.channel()
        found = self._stubs.get(key)
        if found is None or found[0] is not channel:
            found = (channel, kind(channel))
            self._stubs[key] = found
        return found[1]

    def blocking_channel(self) -> Any:
        """A blocking channel, for calls made outside an event loop (Describe, Validate)."""
        import grpc

        found = self._channels.get(0)
        if found is None:
            found = (None, grpc.insecure_channel(self.handshake.target))
            self._channels[0] = found
        return found[1]

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM the plugin's group, SIGKILL it after ``grace`` seconds; close the channels."""
        for key, (_, channel) in list(self._channels.items()):
            if key == 0:
                channel.close()
        self._channels.clear()
        self._stubs.clear()
        self._end(self.process, grace)

    def _end(self, process: subprocess.Popen[bytes], grace: float = 0.0) -> None:
        if process.poll() is None and grace > 0:
            signal_group(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace)
        kill_group(process.pid)
        process.wait()
        release(process.pid)


def _first_line(fd: int, timeout: float) -> tuple[bytes | None, bytes, bool]:
    """The first line read from ``fd`` within ``timeout`` (None at end of file or timeout),
    what was read after it, and whether the end of file came first."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, b"", False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            return None, b"", True
        data += chunk
    line, _, rest = data.partition(b"\n")
    return line, rest, False


def _ended_within(process: subprocess.Popen[bytes], seconds: float) -> bool:
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def _ended(process: subprocess.Popen[bytes]) -> str:
    code = process.poll()
    if code is None:
        return "still running"
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited {code}"
