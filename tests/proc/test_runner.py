"""nestr.proc.group.GroupRunner with real processes: a timeout, a cancel and the leader's own end
each end the whole group; output arrives whole; every child carries the correlation id."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from nestr.observability.context import correlation
from nestr.proc.group import Child, GroupRunner, NotStarted, TimedOut
from nestr.proc.output import Lines
from nestr.testing import process_running

# A shell that starts a grandchild (its pid on the first line), which would outlive it.
GRANDCHILD = "sleep 60 > /dev/null 2>&1 & echo $!"


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


class Collected:
    """An output sink that keeps every piece it is given, and wakes a waiter on each."""

    def __init__(self) -> None:
        self.pieces: list[tuple[str, str]] = []
        self.arrived = asyncio.Event()

    def write(self, stream: str, text: str) -> None:
        self.pieces.append((stream, text))
        self.arrived.set()

    def text(self, stream: str = "stdout") -> str:
        return "".join(text for name, text in self.pieces if name == stream)


def _gone(pid: int, within: float = 10.0) -> bool:
    """Whether ``pid`` has ended, polling up to ``within`` seconds (a SIGKILL is delivered
    asynchronously, so a process may live a moment after the kill returns)."""
    deadline = time.monotonic() + within
    while process_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _run(argv: list[str], tmp_path: Path, **kwargs: object) -> tuple[int, Collected]:
    out = Collected()

    async def go() -> int:
        runner = GroupRunner(grace=1.0)
        return await runner.run(argv, cwd=tmp_path, env=os.environ, log=out, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go()), out


def test_a_timeout_ends_the_whole_group_and_says_so(tmp_path: Path) -> None:
    """A command still running at its timeout is ended with its grandchild, and the runner
    raises TimedOut with the exit code the signal gave it; the output before it is kept."""
    out = Collected()

    async def go() -> None:
        await GroupRunner(grace=1.0).run(
            sh(f"{GRANDCHILD}; wait"), cwd=tmp_path, env=os.environ, log=out, timeout=1.0
        )

    with pytest.raises(TimedOut) as caught:
        asyncio.run(go())
    assert caught.value.returncode == -signal.SIGTERM
    assert caught.value.message == "timed out after 1s"
    assert _gone(int(out.text().split()[0]))


def test_a_timeout_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    """A command that ignores SIGTERM at its timeout gets SIGKILL after the grace period."""
    out = Collected()

    async def go() -> None:
        script = f"trap '' TERM; {GRANDCHILD}; while :; do sleep 0.05; done"
        await GroupRunner(grace=0.2).run(
            sh(script), cwd=tmp_path, env=os.environ, log=out, timeout=1.0
        )

    with pytest.raises(TimedOut) as caught:
        asyncio.run(go())
    assert caught.value.returncode == -signal.SIGKILL
    assert _gone(int(out.text().split()[0]))


def test_a_cancel_ends_the_whole_group(tmp_path: Path) -> None:
    """Cancelling the run while the command waits ends the command and its grandchild."""
    out = Collected()

    async def go() -> None:
        task = asyncio.ensure_future(
            GroupRunner(grace=1.0).run(
                sh(f"{GRANDCHILD}; wait"), cwd=tmp_path, env=os.environ, log=out
            )
        )
        await out.arrived.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert _gone(int(out.text().split()[0]))


def test_the_leaders_end_ends_what_it_left_behind(tmp_path: Path) -> None:
    """A command that exits leaving a background child (output redirected, so no pipe holds
    the run open) has that child ended when it exits."""
    code, out = _run(sh(GRANDCHILD), tmp_path)
    assert code == 0
    assert _gone(int(out.text().split()[0]))


def test_merged_stderr_keeps_the_order_of_writes(tmp_path: Path) -> None:
    """With merge_stderr both streams arrive as one, in the order they were written."""
    code, out = _run(sh("echo a; echo b >&2; echo c"), tmp_path, merge_stderr=True)
    assert code == 0
    assert {name for name, _ in out.pieces} == {"stdout"}
    assert out.text() == "a\nb\nc\n"


def test_characters_cut_by_a_read_arrive_whole(tmp_path: Path) -> None:
    """Three-byte characters across many pipe reads (whose sizes are no multiple of three)
    arrive whole: no read boundary turns one into replacement characters."""
    program = "import sys; sys.stdout.buffer.write('€'.encode() * 100000)"
    code, out = _run([sys.executable, "-c", program], tmp_path)
    assert code == 0
    assert out.text() == "€" * 100000


def test_invalid_bytes_are_replaced(tmp_path: Path) -> None:
    """Bytes that are no UTF-8, mid-output and at its very end, become replacement characters
    instead of failing the run."""
    program = "import sys; sys.stdout.buffer.write(b'a\\xffb\\xe2\\x82')"
    code, out = _run([sys.executable, "-c", program], tmp_path)
    assert code == 0
    assert out.text() == "a\ufffdb\ufffd"


def test_every_child_carries_the_correlation_id(tmp_path: Path) -> None:
    """A command started inside an action gets its correlation id, over a stale one in the
    environment it was given."""

    async def go() -> str:
        out = Collected()
        env = {**os.environ, "NESTR_CORRELATION_ID": "stale"}
        await GroupRunner().run(sh("echo $NESTR_CORRELATION_ID"), cwd=tmp_path, env=env, log=out)
        return out.text()

    with correlation("abc123"):
        assert asyncio.run(go()) == "abc123\n"


def test_a_command_that_cannot_start_says_which(tmp_path: Path) -> None:
    """A program found nowhere raises NotStarted naming it, with the error of the start."""
    with pytest.raises(NotStarted) as caught:
        _run(["no-such-program-xyz"], tmp_path)
    assert "no-such-program-xyz" in caught.value.message
    assert isinstance(caught.value.reason, FileNotFoundError)


def test_lines_are_whole_however_the_text_is_cut() -> None:
    """Lines passes on one call per line, without CR LF, whatever the pieces it is given, and
    the last line without a newline on flush."""
    got: list[tuple[str, str]] = []
    lines = Lines(lambda stream, line: got.append((stream, line)))
    for piece in ["on", "e\r\ntwo\n", "", "thr", "ee\n\nfo", "ur"]:
        lines.write("stdout", piece)
    lines.write("stderr", "e1\ne")
    assert got == [
        ("stdout", "one"),
        ("stdout", "two"),
        ("stdout", "three"),
        ("stdout", ""),
        ("stderr", "e1"),
    ]
    got.clear()
    lines.write("stderr", "2\n")
    lines.flush()
    assert got == [("stderr", "e2"), ("stdout", "four")]


def _processes_with(token: str) -> list[int]:
    """Live (not zombie) processes whose command line contains ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token in cmdline and state not in {"Z", "X"}:
            found.append(int(entry.name))
    return found


def test_a_cancel_during_the_start_leaves_no_process(tmp_path: Path) -> None:
    """A cancel landing at any moment around the start of a process leaves no process behind:
    the start is never cut in half, so either nothing was started or the caller holds the
    started process and stops it."""
    token = f"{os.getpid()}{time.monotonic_ns() % 10**6}"  # digits: `sleep 30.<token>` is valid

    async def cancel_after(turns: int) -> None:
        task = asyncio.ensure_future(Child.start(["sleep", f"30.{token}"], tmp_path, os.environ))
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        try:
            child = await task
        except asyncio.CancelledError:
            return
        # the start finished before the cancel landed: the caller holds it and must stop it
        os.killpg(child.pid, signal.SIGKILL)
        await child.wait()

    for turns in range(6):
        asyncio.run(cancel_after(turns))
        assert _processes_with(f"30.{token}") == []
