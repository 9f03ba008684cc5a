"""Stopping `nestr events --follow`: Ctrl-C exits 130 (interrupted), SIGTERM exits 143."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nestr.events import Event
from nestr.store.eventlog import open_event_log


def _default_sigint() -> None:
    # A test run started in the background inherits SIGINT ignored, and Python keeps it so;
    # the follower must see Ctrl-C as a terminal would send it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("signum", "code", "stderr"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "")],
    ids=["SIGINT", "SIGTERM"],
)
def test_follower_exit_code_on_signal(tmp_path: Path, signum: int, code: int, stderr: str) -> None:
    """The follower, once it printed the stored event (it is following), exits with the
    documented code: 130 on Ctrl-C with the usual `interrupted`, 143 on SIGTERM quietly."""
    state = tmp_path / "state"
    log = open_event_log(state)
    log.append(Event(type="nestr.test.ready"))
    log.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nestr", "events", "--follow", "--type", "nestr.test"],
        env={**os.environ, "NESTR_STATE_DIR": str(state)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,  # noqa: PLW1509 - the child runs no threads before exec
    )
    try:
        assert proc.stdout is not None
        assert "nestr.test.ready" in proc.stdout.readline()  # it is in its follow loop
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err
    assert err.strip() == stderr
