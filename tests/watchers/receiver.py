"""A webhook receiver on 127.0.0.1 for the tests: it verifies every request with the
``standardwebhooks`` reference library, records it, and answers as the test scripts it.

Tests wait on what it received with :meth:`Receiver.wait_for` (a condition and a deadline,
never a sleep).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the example secret of the spec
OTHER_SECRET = "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24="


@dataclass
class Received:
    """One request as it arrived: headers, body, the verified CloudEvent (None if a
    signature did not verify: ``error`` says why), the status answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    event: dict[str, Any] | None
    error: str | None
    status: int = 0

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def seq(self) -> int:
        assert self.event is not None, self.error
        return int(self.event["seq"])


Script = Callable[["Received", int], int]
"""Given a request and how many times its webhook-id arrived before, the status to answer."""


def always_ok(_request: Received, _before: int) -> int:
    return 200


@dataclass
class Receiver:
    """The server, what it received, and the script it answers by."""

    secret: str = SECRET
    script: Script = always_ok
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    url: str = ""

    def record(self, request: Received) -> int:
        with self.changed:
            before = sum(r.webhook_id == request.webhook_id for r in self.requests)
            request.status = self.script(request, before)
            self.requests.append(request)
            self.changed.notify_all()
        return request.status

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        """Return once ``predicate()`` holds (asked whenever a request arrives)."""
        with self.changed:
            if not self.changed.wait_for(predicate, timeout):
                raise AssertionError(
                    f"receiver: condition not met in {timeout} s: {self.summary()}"
                )

    def summary(self) -> list[tuple[int | None, int, str | None]]:
        return [(r.event and r.event.get("seq"), r.status, r.error) for r in self.requests]

    def verified(self) -> list[Received]:
        """Every request, after checking that each one verified."""
        bad = [r.error for r in self.requests if r.error is not None]
        assert not bad, bad
        return list(self.requests)

    def first_seen(self) -> list[int]:
        """Event seqs in the order they first arrived."""
        seen: list[int] = []
        for request in self.verified():
            if request.seq not in seen:
                seen.append(request.seq)
        return seen

    def accepted(self) -> list[int]:
        """Event seqs of the requests answered 2xx, in arrival order."""
        return [r.seq for r in self.verified() if 200 <= r.status < 300]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    verifier = Webhook(receiver.secret)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the sender uses it

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event, error = verifier.verify(body, headers), None
            except Exception as exc:
                event, error = None, f"{type(exc).__name__}: {exc}"
            status = receiver.record(Received(self.path, headers, body, event, error))
            if status < 0:  # the script asks to hang until released (a slow receiver)
                receiver.release.wait(60)
                status = 200
            # no body: headers and body written apart would meet Nagle and delayed ACKs
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout, kill) is what the tests do on purpose


@contextmanager
def receiving(secret: str = SECRET, script: Script = always_ok) -> Iterator[Receiver]:
    """A receiver listening on a free port of 127.0.0.1 for the block."""
    receiver = Receiver(secret=secret, script=script)
    server = _Server(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def cloudevent(request: Received) -> dict[str, Any]:
    """The body of ``request`` as JSON (verified or not)."""
    parsed: dict[str, Any] = json.loads(request.body)
    return parsed
