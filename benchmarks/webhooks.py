"""Webhook throughput: events/s a real ``nestr webhooks run`` delivers to a local receiver.

    .venv/bin/python benchmarks/webhooks.py [--quick] [--events N] [--rounds N]

The receiver (a ``ThreadingHTTPServer`` on 127.0.0.1 in this process, HTTP/1.1 keep-alive)
verifies every request with the ``standardwebhooks`` reference library and answers 204. One
endpoint, default settings but the URL and secret. Two scenarios, each the median of rounds:

- backlog: N events are appended while no dispatcher runs, then one starts; rate = N over the
  time from its start to the last request verified (process start-up included);
- live: a dispatcher runs; N events are appended one transaction each, as producers do; rate =
  N over the time from the first append to the last request verified.

Each delivery is a signed POST, a try counted before it is sent and recorded after it with its
``nestr.webhook.delivered`` event (two commits). A floor row sends the same signed requests
in a plain loop (no store). See docs/webhooks.md.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook

from _common import REPO_ROOT, WORK_DIR, fresh_dir
from nestr.events.envelope import Event
from nestr.store.db import open_database
from nestr.store.eventlog import open_event_log
from nestr.watchers.webhooks import outbox
from nestr.watchers.webhooks.payload import cloudevent_body
from nestr.watchers.webhooks.signing import signed_headers

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - a test secret
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
RUN_DIR = WORK_DIR / "webhooks"


class Receiver:
    """Counts verified requests; ``wait(n)`` returns the time the n-th arrived."""

    def __init__(self) -> None:
        self.count = 0
        self.bad = 0
        self.last = 0.0
        self.changed = threading.Condition()
        verifier = Webhook(SECRET)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                try:
                    verifier.verify(body, dict(self.headers.items()))
                    ok = True
                except Exception:
                    ok = False
                with receiver.changed:
                    receiver.count += ok
                    receiver.bad += not ok
                    receiver.last = time.perf_counter()
                    receiver.changed.notify_all()
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 600) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: self.count >= n, timeout):
                raise SystemExit(f"only {self.count} of {n} deliveries arrived")
            return self.last


@contextmanager
def dispatcher(work: Path, state: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [str(PYTHON), "-m", "nestr", "webhooks", "run"],
        cwd=work,
        env={**os.environ, "NESTR_STATE_DIR": str(state)},
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def registered(state: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        db = open_database(state)
        try:
            if "bench" in outbox.known_states(db):
                return
        finally:
            db.close()
        if time.monotonic() > deadline:
            raise SystemExit("the dispatcher did not start")
        time.sleep(0.01)


def append(state: Path, n: int) -> None:
    log = open_event_log(state)
    try:
        for i in range(n):
            log.append(Event("nestr.workflow.step.log", {"stream": "stdout", "text": f"{i}"}))
    finally:
        log.close()


def one_round(receiver: Receiver, n: int, round_: int) -> tuple[float, float]:
    """(backlog, live) events/s of one round over a fresh store."""
    work = fresh_dir(RUN_DIR / f"round-{round_}")
    state = work / "state"
    (work / "nestr.config.yaml").write_text(
        f"webhooks:\n  bench:\n    url: {receiver.url}\n    secret: {SECRET}\n"
    )
    base = receiver.count
    with dispatcher(work, state):
        registered(state)  # the endpoint's cursor exists: what follows is delivered
    append(state, n)
    started = time.perf_counter()
    with dispatcher(work, state):
        backlog = n / (receiver.wait(base + n) - started)
        started = time.perf_counter()
        append(state, n)
        live = n / (receiver.wait(base + 2 * n) - started)
    return backlog, live


def floor(receiver: Receiver, n: int) -> float:
    """Signed POSTs of one stored event's body in a loop over one kept-alive connection: no
    store, no outbox; what the receiver and HTTP cost alone."""
    port = receiver.server.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port)
    body = cloudevent_body(Event("nestr.workflow.step.log", {"stream": "stdout", "text": "0"}))
    data = body.encode()
    base = receiver.count
    started = time.perf_counter()
    for i in range(n):
        headers = signed_headers([SECRET], f"msg_{i}", int(time.time()), data)
        conn.request("POST", "/hook", body=data, headers=headers)
        conn.getresponse().read()
    receiver.wait(base + n)
    conn.close()
    return n / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int)
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    n = args.events or (300 if args.quick else 2000)
    rounds = args.rounds or (1 if args.quick else 3)
    receiver = Receiver()
    results = [one_round(receiver, n, r) for r in range(rounds)]
    floors = [floor(receiver, n) for _ in range(rounds)]
    receiver.server.shutdown()
    if receiver.bad:
        print(f"{receiver.bad} requests did not verify")
        return 1
    backlog = statistics.median(r[0] for r in results)
    live = statistics.median(r[1] for r in results)
    print(f"webhook deliveries to a local receiver ({n} events, median of {rounds} rounds)")
    print("| scenario | events/s |\n| --- | ---: |")
    print(f"| backlog (dispatcher start included) | {backlog:,.0f} |")
    print(f"| live (appended while it runs) | {live:,.0f} |")
    print(f"| floor: signed POSTs in a loop, no store | {statistics.median(floors):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
