"""Real `nestr webhooks run` and `nestr serve` processes deliver the log to a receiver; a
SIGKILL mid-delivery loses nothing and the event is sent again with the same webhook-id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.watchers.receiver import SECRET, Received, receiving
from tests.watchers.webhook_helpers import append, eventually, logged

from nestr.store.db import open_database
from nestr.watchers.webhooks import outbox


def configure(work: Path, url: str) -> None:
    work.mkdir(exist_ok=True)
    (work / "nestr.config.yaml").write_text(
        f"webhooks:\n  ci:\n    url: {url}\n    secret: {SECRET}\n"
        "    backoff: 0.01\n    backoff_max: 0.05\n",
        encoding="utf-8",
    )


@contextmanager
def nestr_process(work: Path, state: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``nestr ARGS`` in ``work`` over ``state``; killed if the block leaves it running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "nestr", *args],
        cwd=work,
        env={**os.environ, "NESTR_STATE_DIR": str(state)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def registered(state: Path) -> bool:
    """Whether a dispatcher has recorded the endpoint's cursor (it then follows the log)."""
    db = open_database(state)
    try:
        return "ci" in outbox.known_states(db)
    finally:
        db.close()


def test_a_sender_killed_mid_delivery_resends_with_the_same_webhook_id(tmp_path: Path) -> None:
    """SIGKILL of `nestr webhooks run` while event 3 is in flight, events appended while it is
    down, a restart: every event arrives, first sent in seq order, and every try of an event
    (event 3's included) carries one webhook-id."""
    state, work = tmp_path / "state", tmp_path / "work"
    open_database(state).close()

    def hang_on_3(request: Received, before: int) -> int:
        return -1 if request.seq == 3 and before == 0 else 200

    with receiving(script=hang_on_3) as receiver:
        configure(work, receiver.url)
        with nestr_process(work, state, "webhooks", "run") as first:
            eventually(lambda: registered(state))
            sent = append(state, 6)
            receiver.wait_for(lambda: any(r.seq == 3 for r in receiver.requests))
            os.kill(first.pid, signal.SIGKILL)
            assert first.wait() == -signal.SIGKILL
        receiver.release.set()  # the hung answer goes to a dead client
        sent += append(state, 2)  # while no sender runs
        with nestr_process(work, state, "webhooks", "run") as second:
            eventually(lambda: len(logged(state, "nestr.webhook.delivered")) >= 8)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0
        got = receiver.verified()
    seqs = [e.seq for e in sent]
    assert receiver.first_seen() == seqs
    assert [r.seq for r in got].count(3) == 2
    for seq in seqs:
        assert len({r.webhook_id for r in got if r.seq == seq}) == 1, seq
    db = open_database(state)
    rows = outbox.deliveries(db)
    db.close()
    assert sorted(d.event_seq for d in rows if d.status == "delivered") == seqs


def test_serve_delivers_webhooks_when_they_are_configured(tmp_path: Path) -> None:
    """`nestr serve` with `webhooks:` configured runs a dispatcher beside the gRPC server."""
    state, work = tmp_path / "state", tmp_path / "work"
    open_database(state).close()
    with receiving() as receiver:
        configure(work, receiver.url)
        with nestr_process(work, state, "serve", "--listen", "127.0.0.1:0") as server:
            eventually(lambda: registered(state))
            append(state, 2)
            eventually(lambda: len(logged(state, "nestr.webhook.delivered")) >= 2)
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=60) == 0
        assert [r.seq for r in receiver.verified()] == [1, 2]


def test_a_second_dispatcher_waits_and_takes_over(tmp_path: Path) -> None:
    """Two `nestr webhooks run` over one store: the second waits while the first delivers
    (each event is sent once); when the first is killed the second delivers what follows."""
    state, work = tmp_path / "state", tmp_path / "work"
    open_database(state).close()
    with receiving() as receiver:
        configure(work, receiver.url)
        with nestr_process(work, state, "webhooks", "run") as first:
            eventually(lambda: registered(state))  # the first holds the lock
            with nestr_process(work, state, "webhooks", "run") as second:
                assert second.stderr is not None
                lines = iter(second.stderr.readline, "")
                assert any("delivers webhooks from this store: waiting" in line for line in lines)
                sent = append(state, 3)
                eventually(lambda: len(logged(state, "nestr.webhook.delivered")) >= 3)
                os.kill(first.pid, signal.SIGKILL)
                sent += append(state, 2)
                eventually(lambda: len(logged(state, "nestr.webhook.delivered")) >= 5)
                second.send_signal(signal.SIGTERM)
                assert second.wait(timeout=60) == 0
        got = receiver.verified()
    assert [r.seq for r in got] == [e.seq for e in sent]
