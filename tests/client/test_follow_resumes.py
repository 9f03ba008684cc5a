"""`nestr events --follow --server` resumes from its cursor: across a restart of the server on
the same port, and when the server ends a subscriber that fell behind (RESOURCE_EXHAUSTED);
every event is printed exactly once, in order."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import pytest
from grpc import aio

from nestr.client.follow import follow
from nestr.config.settings import Settings
from nestr.events import Event
from nestr.server._proto import events_pb2 as pb
from nestr.server.app import start
from nestr.server.services.events import StreamLimits
from nestr.session import Session
from nestr.store.eventlog import open_event_log

from .conftest import GUARD, serve

Nestr = Any  # the in-process CLI fixture of tests/conftest.py


def append(state: Path, count: int, *, subject: str | None = None) -> None:
    """Append ``count`` events through a connection of their own (as another process would)."""
    log = open_event_log(state)
    for i in range(count):
        log.append(Event("nestr.test.tick", {"i": i}, subject=subject))
    log.close()


class Lines:
    """The lines of a child's stream, read by a thread as they come."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.queue: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.queue.put(line)

    def next(self, what: str) -> str:
        """The next line, failing the test after GUARD seconds without one."""
        try:
            return self.queue.get(timeout=GUARD)
        except queue.Empty:
            pytest.fail(f"no {what} line within {GUARD}s")

    def rest(self) -> str:
        """What is left once the stream ended; closes it."""
        self.thread.join(GUARD)
        self.stream.close()
        return "".join(_drain(self.queue))


def _drain(lines: queue.Queue[str]) -> list[str]:
    drained = []
    while not lines.empty():
        drained.append(lines.get_nowait())
    return drained


def test_follow_across_a_server_restart_prints_every_event_once(
    tmp_path: Path, nestr: Nestr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The follower keeps following while the server is killed and started again on the same
    port; the events appended while it was down and after are printed, none twice, and the
    lines are those `nestr events` prints locally; it says on stderr that it reconnects."""
    state = tmp_path / "state"
    monkeypatch.setenv("NESTR_STATE_DIR", str(state))
    append(state, 5)
    first = serve(tmp_path)
    follower = subprocess.Popen(
        [sys.executable, "-m", "nestr", "--server", first.address, "events", "--follow"],
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    second = None
    assert follower.stdout is not None
    assert follower.stderr is not None
    out, err = Lines(follower.stdout), Lines(follower.stderr)
    try:
        lines = [out.next("event") for _ in range(5)]
        first.stop(signal.SIGKILL)
        notice = err.next("reconnecting")
        assert f"reconnecting to {first.address} after seq 5…" in notice
        append(state, 5)  # while no server runs
        second = serve(tmp_path, listen=first.address)
        append(state, 5)
        lines += [out.next("event") for _ in range(10)]
        assert err.next("reconnected") == f"reconnected to {first.address}\n"
        follower.send_signal(signal.SIGTERM)
        follower.wait(GUARD)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        rest = out.rest()
        err.rest()
        for running in (first, second):
            if running is not None and running.proc.poll() is None:
                running.stop()
    assert follower.returncode == 143
    assert rest == ""
    assert [int(line.split()[0]) for line in lines] == list(range(1, 16))
    assert "".join(lines) == nestr("events").out


def test_a_subscriber_that_fell_behind_resumes_from_the_seq_it_was_given(
    tmp_path: Path,
) -> None:
    """A follower that stops reading while large events pile up is ended RESOURCE_EXHAUSTED by
    the server; it subscribes again from its cursor, says so, and delivers every event once."""
    state = tmp_path / "state"
    big = "x" * 65_536  # large events fill the transport's buffers quickly
    notices: list[str] = []

    async def scenario() -> tuple[list[int], int, int]:
        session = Session(Settings(state_dir=state), cwd=tmp_path)
        server = await start(
            session,
            listen="127.0.0.1:0",
            token=None,
            limits=StreamLimits(queue=8, batch=4, heartbeat=0.2),
        )
        address = f"127.0.0.1:{server.port}"
        try:
            async with aio.insecure_channel(address) as channel, asyncio.timeout(GUARD):
                append(state, 1)
                events = follow(
                    channel, pb.SubscribeRequest(), address=address, notice=notices.append
                )
                seqs = [(await anext(events)).seq or 0]
                while server.events.overflows == 0:  # stalled: nothing is read meanwhile
                    append(state, 20, subject=big)
                    await asyncio.sleep(0.05)
                head = session.event_head()
                while seqs[-1] < head:
                    seqs.append((await anext(events)).seq or 0)
                await events.aclose()
                return seqs, head, server.events.overflows
        finally:
            await server.stop(0)
            session.close()

    seqs, head, overflows = asyncio.run(scenario())
    assert overflows == 1
    assert seqs == list(range(1, head + 1))
    assert notices[0].startswith("the server ended the stream: this client fell behind;")
    resumed_after = int(notices[0].rsplit(" ", 1)[1].rstrip("…"))
    assert 1 <= resumed_after < head
    assert notices[1].startswith("reconnected to 127.0.0.1:")
