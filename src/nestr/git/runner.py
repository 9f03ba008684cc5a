"""The one place nestr runs ``git``.

Every call: argv list (never a shell), ``stdin`` from /dev/null, its own session (so a timeout or
cancellation kills git and its helpers as a group), an environment cleaned of ``GIT_*`` variables
that would redirect it (pre-commit's ``no_git_env`` allow-list), ``GIT_TERMINAL_PROMPT=0`` and
SSH in batch mode so it never prompts (tsrc #386: prompts under parallelism hang a fleet), and a
timeout. Failures raise :class:`nestr.errors.GitError` with argv, exit code and stderr. Each git's
group is watched by :mod:`nestr.proc.groups` while it runs: if nestr is killed (even by SIGKILL),
the group is ended, so no git goes on writing into a workspace whose lock died with nestr.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nestr.errors import GitError, WorkFailed
from nestr.git import credentials
from nestr.observability.context import child_env
from nestr.observability.logging import get_logger
from nestr.observability.tracing import span
from nestr.proc.groups import arm, kill_group, marked, release, watch

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

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
    credentials.apply(env)  # the settings' tokens and SSH key (nestr.git.credentials)
    env.update(child_env())  # what git's hooks and helpers do joins this action
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
    """Run ``git *args`` and return its output; raise :class:`GitError` if it fails.

    The process is started and waited for in a worker thread, not on the event loop: starting a
    process blocks its caller until the child has exec'd, which takes milliseconds while other
    gits keep the disk busy, and on the loop those milliseconds add up one after another. From
    threads the starts overlap. Cancelling the awaiting task kills git's process group at once.
    """
    import asyncio  # here, not at the top: blocking callers should not pay for its import

    with span(_span_name(args)) as current:
        call = _GitCall(("git", *args), cwd, git_env(env), timeout, input_bytes)
        future = asyncio.get_running_loop().run_in_executor(_threads(), call.result)
        try:
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            call.cancel()
            with contextlib.suppress(BaseException):
                await future  # the group is dead: this returns at once
            raise
        current.set("process.exit.code", result.returncode)
    log.debug(
        "git",
        argv=" ".join(result.argv),
        cwd=str(cwd) if cwd else None,
        rc=result.returncode,
        seconds=round(result.duration, 4),
    )
    return _checked(result, cwd) if check else result


def run_git_sync(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> GitResult:
    """Blocking variant of :func:`run_git` for code that is not async (same guarantees)."""
    with span(_span_name(args)) as current:
        result = _GitCall(("git", *args), cwd, git_env(env), timeout).result()
        current.set("process.exit.code", result.returncode)
    return _checked(result, cwd) if check else result


def run_git_parallel(
    calls: Sequence[tuple[Sequence[str], Path | None]],
    *,
    jobs: int,
    timeout: float = DEFAULT_TIMEOUT,
    guarded: bool = True,
) -> list[GitResult | WorkFailed]:
    """Run ``git *args`` in ``cwd`` for each call, at most ``jobs`` at once, without an event loop.

    ``guarded=False`` leaves the gits out of :mod:`nestr.proc.groups` (no helper process is
    started for them): only for read-only commands, where a git that outlives a killed nestr
    by a moment changes nothing that matters.

    For short read-only fan-outs (``nestr status``) where importing and starting asyncio would
    cost more than the git processes themselves. Each of ``jobs`` threads starts a git, waits
    for it and takes the next call, so starts overlap and a slow repo holds up only its thread.
    Results come back in call order; a call that fails (exit code, timeout, missing directory)
    yields its :class:`WorkFailed` in its slot instead of raising, so one bad repo does not hide
    the others. Interrupting kills every running git's process group before re-raising.
    """
    with span("git", **{"nestr.git.calls": len(calls)}):
        return _run_parallel(calls, jobs, timeout, guarded)


def _run_parallel(
    calls: Sequence[tuple[Sequence[str], Path | None]],
    jobs: int,
    timeout: float,
    guarded: bool,
) -> list[GitResult | WorkFailed]:
    env = git_env()
    pending = list(enumerate(calls))
    pending.reverse()  # pop() from the end takes them in call order
    results: list[GitResult | WorkFailed | None] = [None] * len(calls)
    active: set[_GitCall] = set()
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                index, (args, cwd) = pending.pop()
                call = _GitCall(("git", *args), cwd, env, timeout, guarded=guarded)
                active.add(call)
            try:
                results[index] = _checked(call.result(), cwd)
            except WorkFailed as exc:
                results[index] = exc
            with lock:
                active.discard(call)

    threads = [
        threading.Thread(target=worker, daemon=True) for _ in range(min(max(1, jobs), len(calls)))
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        with lock:
            pending.clear()
            for call in active:
                call.cancel()
        raise
    return [r if r is not None else WorkFailed("git did not run") for r in results]


def _span_name(args: Sequence[str]) -> str:
    """``git fetch`` for ``-c k=v fetch ...``: the span of one git, named by its subcommand
    (an option before it that takes a value is passed over with its value)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in {"-c", "-C", "--git-dir", "--work-tree"}:
            skip = True
        elif not arg.startswith("-"):
            return f"git {arg}"
    return "git"


def _checked(result: GitResult, cwd: Path | None) -> GitResult:
    if result.returncode != 0:
        raise GitError(result.argv, result.returncode, result.stderr, cwd=cwd)
    return result


class _GitCall:
    """One git process, run by the calling thread and killable from any other at any moment."""

    def __init__(
        self,
        argv: tuple[str, ...],
        cwd: Path | None,
        env: Mapping[str, str],
        timeout: float,
        input_bytes: bytes | None = None,
        *,
        guarded: bool = True,
    ) -> None:
        self.argv, self.cwd, self.env = argv, cwd, env
        self.timeout, self.input_bytes = timeout, input_bytes
        self.guarded = guarded
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._cancelled = False

    def result(self) -> GitResult:
        """Run git to its end (whatever its exit code); WorkFailed if it cannot run or hangs."""
        start = time.perf_counter()
        proc = self._start()
        group = watch(proc.pid) if self.guarded else None
        try:
            out, err = proc.communicate(self.input_bytes, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            proc.communicate()
            release(group)
            raise GitError(
                self.argv,
                None,
                f"no answer after {self.timeout:g}s",
                cwd=self.cwd,
                hint="raise git.timeout",
            ) from None
        release(group)  # git has ended
        code = proc.returncode if proc.returncode is not None else -1
        stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
        return GitResult(self.argv, code, stdout, stderr, time.perf_counter() - start)

    def _start(self) -> subprocess.Popen[bytes]:
        with self._lock:  # a cancel that came first wins; one that comes later kills
            if self._cancelled:
                raise WorkFailed("cancelled before git started")
            if self.guarded:
                arm()
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    cwd=self.cwd,
                    stdin=subprocess.PIPE if self.input_bytes is not None else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=marked(self.env) if self.guarded else dict(self.env),
                    start_new_session=True,
                )
            except FileNotFoundError as exc:
                if self.cwd is not None and not self.cwd.exists():
                    raise WorkFailed(f"directory does not exist: {self.cwd}") from None
                raise WorkFailed(
                    "git is not installed or not on PATH", hint="install git 2.30 or newer"
                ) from exc
            return self._proc

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._proc is not None and self._proc.returncode is None:
                kill_group(self._proc.pid)


_POOL: ThreadPoolExecutor | None = None


def _threads() -> ThreadPoolExecutor:
    """Threads that start and wait for git; callers bound how many run (``jobs``)."""
    global _POOL  # noqa: PLW0603 - one pool per process, made on first use
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=64, thread_name_prefix="nestr-git")
    return _POOL


def git_version() -> str | None:
    """``2.39.5``, or None when git is missing."""
    try:
        out = run_git_sync(["--version"], timeout=10).stdout
    except WorkFailed:
        return None
    return out.strip().removeprefix("git version ").strip()
