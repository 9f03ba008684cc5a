"""The one place nestr runs ``git``.

Every call: argv list (never a shell), ``stdin`` from /dev/null, its own session (so a timeout or
cancellation kills git and its helpers as a group), an environment cleaned of ``GIT_*`` variables
that would redirect it (pre-commit's ``no_git_env`` allow-list), ``GIT_TERMINAL_PROMPT=0`` and
SSH in batch mode so it never prompts (tsrc #386: prompts under parallelism hang a fleet), and a
timeout. Failures raise :class:`nestr.errors.GitError` with argv, exit code and stderr.
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
from pathlib import Path

from nestr.errors import GitError, WorkFailed
from nestr.observability.logging import get_logger

log = get_logger("nestr.git")

DEFAULT_TIMEOUT = 600.0
# Variables that configure *how* git talks to the world are kept; those that point git at another
# repository, index or work tree are dropped.
_KEEP_GIT_VARS = frozenset(
    {
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_ALLOW_PROTOCOL",
        "GIT_ASKPASS",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
        "GIT_TRACE",
        "GIT_CURL_VERBOSE",
    }
)


@dataclass(frozen=True)
class GitResult:
    """What a finished git command printed."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every git call runs with."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GIT_") or k in _KEEP_GIT_VARS or k.startswith("GIT_CONFIG_")
    }
    # GIT_CONFIG_COUNT/KEY_n/VALUE_n come in sets; keep them only if the set is whole.
    if "GIT_CONFIG_COUNT" not in env:
        env = {
            k: v
            for k, v in env.items()
            if not k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
        }
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    env["GCM_INTERACTIVE"] = "never"
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


async def run_git(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input_bytes: bytes | None = None,
) -> GitResult:
    """Run ``git *args`` and return its output; raise :class:`GitError` if it fails."""
    argv = ("git", *args)
    start = time.perf_counter()
    # The child exists once fork/exec ran, before create_subprocess_exec returns: a cancel in
    # between must still kill it, so the spawn is shielded and finished before re-raising.
    spawning = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=git_env(env),
            start_new_session=True,
        )
    )
    try:
        proc = await asyncio.shield(spawning)
    except asyncio.CancelledError:
        await _reap_spawn(spawning)
        raise
    except FileNotFoundError as exc:
        if cwd is not None and not cwd.exists():
            raise WorkFailed(f"directory does not exist: {cwd}") from None
        raise WorkFailed(
            "git is not installed or not on PATH", hint="install git 2.30 or newer"
        ) from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(input_bytes), timeout)
    except (TimeoutError, asyncio.CancelledError) as exc:
        _kill_group(proc.pid)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise GitError(
            argv, None, f"no answer after {timeout:g}s", cwd=cwd, hint="raise git.timeout"
        ) from None
    duration = time.perf_counter() - start
    code = proc.returncode if proc.returncode is not None else -1
    result = GitResult(
        argv, code, out.decode(errors="replace"), err.decode(errors="replace"), duration
    )
    log.debug(
        "git",
        argv=" ".join(argv),
        cwd=str(cwd) if cwd else None,
        rc=code,
        seconds=round(duration, 4),
    )
    if check and code != 0:
        raise GitError(argv, code, result.stderr, cwd=cwd)
    return result


def run_git_sync(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> GitResult:
    """Blocking variant of :func:`run_git` for code that is not async (same guarantees)."""
    argv = ("git", *args)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=git_env(env),
            start_new_session=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise WorkFailed(
            "git is not installed or not on PATH", hint="install git 2.30 or newer"
        ) from exc
    except subprocess.TimeoutExpired:
        raise GitError(argv, None, f"no answer after {timeout:g}s", cwd=cwd) from None
    result = GitResult(
        argv,
        proc.returncode,
        proc.stdout.decode(errors="replace"),
        proc.stderr.decode(errors="replace"),
        time.perf_counter() - start,
    )
    if check and proc.returncode != 0:
        raise GitError(argv, proc.returncode, result.stderr, cwd=cwd)
    return result


async def _reap_spawn(spawning: asyncio.Future[asyncio.subprocess.Process]) -> None:
    """After a cancel during spawn: let the spawn finish, then kill and reap what it started."""
    while not spawning.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(spawning)
    if spawning.cancelled() or spawning.exception() is not None:
        return
    proc = spawning.result()
    _kill_group(proc.pid)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.shield(proc.wait())


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def git_version() -> str | None:
    """``2.39.5``, or None when git is missing."""
    try:
        out = run_git_sync(["--version"], timeout=10).stdout
    except WorkFailed:
        return None
    return out.strip().removeprefix("git version ").strip()
