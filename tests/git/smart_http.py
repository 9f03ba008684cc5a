"""A git smart-HTTP server on 127.0.0.1 that wants a token: ``git http-backend`` run as CGI.

Every request must carry HTTP Basic auth with the one token the server knows (any user name);
without it the answer is 401 with a Basic challenge, as a forge gives. The server keeps every
``Authorization`` header it was sent, so a test can prove which tokens reached it.
"""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


def _backend() -> str:
    exec_path = subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return str(Path(exec_path) / "git-http-backend")


class SmartHttpServer(ThreadingHTTPServer):
    """Serves the repositories under ``root`` to clients that present ``token``."""

    daemon_threads = True

    def __init__(self, root: Path, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root, self.token, self.backend = root, token, _backend()
        self.authorizations: list[str] = []  # every Authorization header received
        self.denied = 0

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: what git calls this server's host."""
        return f"127.0.0.1:{self.server_address[1]}"

    def url(self, name: str) -> str:
        return f"http://{self.host}/{name}"

    def authorized(self, header: str | None) -> bool:
        if header is not None:
            self.authorizations.append(header)
        if header is None or not header.startswith("Basic "):
            return False
        decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
        return decoded.partition(":")[2] == self.token

    def sent_token(self, token: str) -> bool:
        """Whether any request carried ``token`` (as its password, or anywhere in the header)."""
        for header in self.authorizations:
            raw = base64.b64decode(header.split(" ", 1)[-1] + "==").decode(errors="replace")
            if token in raw or token in header:
                return True
        return False


class _Handler(BaseHTTPRequestHandler):
    server: SmartHttpServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: pytest shows the test's own output

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        if not self.server.authorized(self.headers.get("Authorization")):
            self.server.denied += 1
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, payload = self._cgi(body)
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _cgi(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        url = urlsplit(self.path)
        env = {
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "test",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "PATH": "/usr/bin:/bin",
        }
        done = subprocess.run(
            [self.server.backend], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        return status, headers, payload


@contextmanager
def smart_http(root: Path, token: str) -> Iterator[SmartHttpServer]:
    """A server for the repositories under ``root``; stopped (and its thread joined) after."""
    server = SmartHttpServer(root, token)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
