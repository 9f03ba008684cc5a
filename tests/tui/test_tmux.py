"""`nestr ui` as a user runs it: a real terminal (tmux), keys sent, the screen captured."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.tui.helpers import GUARD, Project

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One detached tmux session on a server of its own (``-L``), killed at the end."""

    def __init__(self) -> None:
        self.server = f"nestr-ui-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.server, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "ui")

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + GUARD
        while text not in (shown := self.screen()):  # a terminal has no event to wait on
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} never appeared:\n{shown}")
            time.sleep(0.1)
        return shown


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    session = Tmux()
    yield session
    subprocess.run(["tmux", "-L", session.server, "kill-server"], capture_output=True, check=False)


def test_cancelling_a_run_from_the_keyboard_in_a_terminal(project: Project, tmux: Tmux) -> None:
    """In `nestr ui` in a real terminal, enter on the running run, `c` and `y` cancel it: the
    run is recorded cancelled and the screen says so."""
    proc = project.start("run", "slow")
    try:
        project.wait_for("slow", "running")
        env = [f"{k}={v}" for k, v in os.environ.items() if k.startswith(("HOME", "XDG_"))]
        command = ["env", *env, sys.executable, "-m", "nestr", "-C", str(project.root), "ui"]
        tmux("new-session", "-d", "-s", "ui", "-x", "140", "-y", "35", *command)
        tmux.wait_for("running")
        tmux("send-keys", "-t", "ui", "Enter")
        tmux.wait_for("wait")
        tmux("send-keys", "-t", "ui", "c")
        tmux.wait_for("Cancel run")
        tmux("send-keys", "-t", "ui", "y")
        project.wait_for("slow", "cancelled")
        shown = tmux.wait_for("slow · cancelled")
        tmux("send-keys", "-t", "ui", "q")
        assert proc.wait(timeout=GUARD) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert project.status_of("slow") == "cancelled"
    assert "cancel: requested" in shown


def test_a_frozen_ui_costs_a_run_nothing(project: Project, tmux: Tmux) -> None:
    """With `nestr ui` stopped (SIGSTOP) in the middle of reading, a workflow still runs to
    its end; once the UI goes on it shows the run."""
    env = [f"{k}={v}" for k, v in os.environ.items() if k.startswith(("HOME", "XDG_"))]
    command = ["env", *env, sys.executable, "-m", "nestr", "-C", str(project.root), "ui"]
    tmux("new-session", "-d", "-s", "ui", "-x", "140", "-y", "35", *command)
    tmux.wait_for("lag 0")
    pid = int(tmux("display-message", "-p", "-t", "ui", "#{pane_pid}"))
    os.kill(pid, signal.SIGSTOP)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nestr", "-C", str(project.root), "run", "flaky"],
            capture_output=True,
            timeout=GUARD,
            check=False,
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    assert done.returncode == 0
    shown = tmux.wait_for("succeeded")
    assert "flaky" in shown
    tmux("send-keys", "-t", "ui", "q")


def test_the_demo_ends_by_offering_the_ui(tmp_path: Path, tmux: Tmux) -> None:
    """`nestr demo` in a terminal asks whether to open `nestr ui`; `y` shows the demo's run
    (the ci workflow, succeeded) and `q` ends the demo."""
    env = [f"{k}={v}" for k, v in os.environ.items() if k.startswith(("HOME", "XDG_"))]
    demo = ["env", *env, sys.executable, "-m", "nestr", "demo", "--dir", str(tmp_path / "demo")]
    tmux("new-session", "-d", "-s", "ui", "-x", "140", "-y", "35", *demo)
    tmux("set-option", "-t", "ui", "remain-on-exit", "on")  # to read its last words
    tmux.wait_for("Open nestr ui on the demo product")
    tmux("send-keys", "-t", "ui", "y", "Enter")
    shown = tmux.wait_for("succeeded")
    tmux("send-keys", "-t", "ui", "q")
    assert "ci" in shown
    tmux.wait_for("Demo finished")
