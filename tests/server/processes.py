"""A real ``nestr serve`` process for the tests that need the command itself: started on a free
port of 127.0.0.1, its address read from the line it prints, killed if a test leaves it running."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

GUARD = 60  # seconds: a server that does not stop fails the test instead of hanging the suite
LISTENING = "listening on 127.0.0.1:"
Env = Mapping[str, str | None]


def start_serve(
    state: Path | None,
    *flags: str,
    env: Env | None = None,
    cwd: Path | None = None,
    json_logs: bool = False,
    listen: str | None = "127.0.0.1:0",
    stderr: int | IO[str] = subprocess.PIPE,
) -> subprocess.Popen[str]:
    """Start ``nestr [--log-format json] FLAGS serve [--listen LISTEN]`` over the state dir
    ``state`` (None: the one the environment names) with ``env`` set over the test's
    environment, a None value removing the variable; ``listen=None`` leaves the address to the
    config. Returns at once: :func:`listening` waits for the address."""
    command = [sys.executable, "-m", "nestr"]
    command += ["--log-format", "json"] if json_logs else []
    command += [*flags, "serve"]
    command += ["--listen", listen] if listen is not None else []
    environ = dict(os.environ)
    if state is not None:
        environ["NESTR_STATE_DIR"] = str(state)
    for name, value in (env or {}).items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def listening(server: subprocess.Popen[str]) -> str:
    """The address ``server`` prints once it listens on 127.0.0.1; a server that prints
    anything else is killed and the test fails showing its first line and its stderr."""
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith(LISTENING):
        server.kill()
        _, err = server.communicate(timeout=GUARD)
        shown = err if server.stderr is not None else "(stderr not captured)"
        pytest.fail(f"nestr serve did not start: {line!r}, exit {server.returncode}\n{shown}")
    return line.split()[-1]


@contextmanager
def nestr_serve(
    state: Path | None, *flags: str, **options: Any
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A listening ``nestr serve`` (arguments as for :func:`start_serve`) and its address;
    killed if the test leaves it running, and always reaped."""
    server = start_serve(state, *flags, **options)
    try:
        yield server, listening(server)
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate(timeout=GUARD)  # reaps it and closes its pipes
