"""A local HTTP server speaking the subset of Ollama's REST API the ``ollama`` client uses.

``/api/tags`` (GET) lists the models it has; ``/api/generate`` and ``/api/chat`` (POST) stream
NDJSON: one object per token (``response``, or ``message.content`` for chat) with
``done: false``, then a last one with ``done: true``, ``done_reason`` and ``eval_count``, as
``ollama serve`` does. A model it lacks gets a 404 with ``{"error": "model \\"M\\" not found,
try pulling it first"}``; ``fail_after`` ends a stream with an ``{"error": ...}`` line.
``hold_after`` stops a stream after that many tokens until :attr:`release` is set, and
:attr:`disconnected` tells when the client went away meanwhile (a cancel).
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREATED = "2026-12-07T06:00:00.000000Z"


@dataclass
class Script:
    """What the server answers."""

    models: tuple[str, ...] = ("tiny",)
    tokens: tuple[str, ...] = ("Hello", ",", " world", "\n", "Bye", ".")
    hold_after: int | None = None  # tokens sent before the stream waits for `release`
    fail_after: int | None = None  # tokens sent before an error line ends the stream
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)  # the stream is waiting
    release: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
        pass

    def do_GET(self) -> None:
        if self.path != "/api/tags":
            self._json(404, {"error": "not found"})
            return
        models = [
            {
                "name": f"{m}:latest",
                "model": f"{m}:latest",
                "modified_at": CREATED,
                "size": 1,
                "digest": "0" * 64,
                "details": {"format": "gguf", "family": "test"},
            }
            for m in self.server.script.models
        ]
        self._json(200, {"models": models})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        script = self.server.script
        script.requests.append((self.path, body))
        if self.path not in ("/api/generate", "/api/chat"):
            self._json(404, {"error": "not found"})
            return
        model = str(body.get("model", "")).removesuffix(":latest")
        if model not in script.models:
            error = f'model "{body.get("model")}" not found, try pulling it first'
            self._json(404, {"error": error})
            return
        self._stream(body, chat=self.path == "/api/chat")

    def _stream(self, body: dict[str, Any], *, chat: bool) -> None:
        script = self.server.script
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes
        for index, token in enumerate(script.tokens):
            if index == script.hold_after and not self._hold():
                return
            if index == script.fail_after:
                self._line({"error": "model runner has unexpectedly stopped"})
                return
            self._line(_part(body["model"], token, chat=chat, done=False))
        last = _part(body["model"], "", chat=chat, done=True)
        self._line({**last, "done_reason": "stop", "eval_count": len(script.tokens)})

    def _hold(self) -> bool:
        """Wait for `release`; False when the client disconnected first."""
        script = self.server.script
        script.held.set()
        while not script.release.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                script.disconnected.set()
                return False
        return True

    def _line(self, data: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(data).encode() + b"\n")
        self.wfile.flush()

    def _json(self, status: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _part(model: str, token: str, *, chat: bool, done: bool) -> dict[str, Any]:
    base: dict[str, Any] = {"model": model, "created_at": CREATED, "done": done}
    if chat:
        return {**base, "message": {"role": "assistant", "content": token}}
    return {**base, "response": token}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script


@contextmanager
def ollama_server(script: Script | None = None) -> Iterator[tuple[str, Script]]:
    """Serve ``script`` on a free port of 127.0.0.1; yields the ``http://host:port`` and it."""
    script = script or Script()
    server = _Server(script)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}", script
    finally:
        script.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
