"""`nestr foreach` commands run through the one group runner: a timeout, a cancel, the command's
own end and nestr's death (SIGKILL) each end the command's whole process group."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from nestr.events import Event, EventBus
from nestr.testing import process_running
from nestr.workspace.foreach import ForeachCommand, ForeachReport, foreach

if TYPE_CHECKING:
    from conftest import SmallWorkspace

# Starts a grandchild that would outlive the command (output redirected: no pipe holds the
# run open), prints its pid, then waits for it.
WAITS = "sleep 60 > /dev/null 2>&1 & echo $!; wait"
DEADLINE = 20.0


def _gone(pids: list[int], within: float = DEADLINE) -> bool:
    """Whether every pid has ended, polling up to ``within`` seconds (signals are delivered
    asynchronously: a process may live a moment after it was killed)."""
    deadline = time.monotonic() + within
    while any(process_running(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _pids(events: list[Event]) -> list[int]:
    return [int(e.data["line"]) for e in events if e.type.endswith(".output")]


async def _foreach(
    sw: SmallWorkspace, script: str, bus: EventBus, timeout: float | None = None
) -> ForeachReport:
    command = ForeachCommand(("sh", "-c", script))
    return await foreach(
        sw.workspace, sw.repos, command, bus=bus, jobs=2, keep_going=True, timeout=timeout
    )


def test_a_timeout_ends_each_command_with_its_grandchild(small_workspace: SmallWorkspace) -> None:
    """A command still running at the timeout is ended with everything it started; its result
    says it timed out, with the exit code the signal gave it."""
    bus, events = EventBus(), []
    bus.add_listener(events.append)
    report = asyncio.run(_foreach(small_workspace, WAITS, bus, timeout=1.0))
    assert [(r.returncode, r.error) for r in report.results] == [
        (-signal.SIGTERM, "timed out after 1s")
    ] * 2
    assert len(_pids(events)) == 2
    assert _gone(_pids(events))


def test_a_cancel_ends_each_command_with_its_grandchild(small_workspace: SmallWorkspace) -> None:
    """Cancelling a run (Ctrl-C) while the commands wait ends them and their grandchildren."""
    events: list[Event] = []

    async def go() -> None:
        bus, printed = EventBus(), asyncio.Event()

        def listen(event: Event) -> None:
            events.append(event)
            if len(_pids(events)) == 2:
                printed.set()

        bus.add_listener(listen)
        task = asyncio.ensure_future(_foreach(small_workspace, WAITS, bus))
        await printed.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert _gone(_pids(events))


def test_a_command_that_exits_leaves_nothing_behind(small_workspace: SmallWorkspace) -> None:
    """A background process a command left running is ended when the command exits."""
    bus, events = EventBus(), []
    bus.add_listener(events.append)
    report = asyncio.run(_foreach(small_workspace, "sleep 60 > /dev/null 2>&1 & echo $!", bus))
    assert report.ok
    assert len(_pids(events)) == 2
    assert _gone(_pids(events))


def _recorded(pids: Path) -> list[int]:
    """The pids written so far (a file may exist before its number is written)."""
    texts = [p.read_text() for p in pids.iterdir()]
    return [int(text) for text in texts if text.endswith("\n")]


def test_nestr_killed_by_sigkill_leaves_no_command_running(
    small_workspace: SmallWorkspace, tmp_path: Path
) -> None:
    """When `nestr foreach` is killed by SIGKILL (no chance to clean up), its helper ends every
    command's process group, grandchildren included."""
    pids = tmp_path / "pids"
    pids.mkdir()
    script = (
        f"sleep 60 > /dev/null 2>&1 & echo $! > {pids}/$NESTR_REPO_NAME.grand; "
        f"echo $$ > {pids}/$NESTR_REPO_NAME; wait"
    )
    argv = [sys.executable, "-m", "nestr", "foreach", "-w", str(small_workspace.root)]
    nestr = subprocess.Popen(
        [*argv, "-j", "2", "--shell", "--", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # as a job of its own: the kill reaches nestr alone
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while len(_recorded(pids)) < 4 and nestr.poll() is None:
            assert time.monotonic() < deadline, "the commands did not start"
            time.sleep(0.01)
        recorded = _recorded(pids)
        assert len(recorded) == 4
    finally:
        nestr.send_signal(signal.SIGKILL)
        nestr.wait()
    assert _gone(recorded)
