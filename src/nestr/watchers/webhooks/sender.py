"""POST one signed request to an endpoint, blocking: the dispatcher runs it in a thread.

The standard library's ``http.client`` over one kept-alive connection per endpoint (a
delivery at a time per endpoint, so one connection is enough); ``timeout`` bounds the connect
and each read. The answer's body is read and dropped. Errors never quote the URL (it may hold
a token in its query) nor, of course, a secret.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit

from nestr import __version__
from nestr.watchers.webhooks.policy import Answer

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"  # CloudEvents structured mode
USER_AGENT = f"nestr/{__version__} (webhooks)"


class Sender:
    """Sends to one URL over a connection kept open between requests."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        """Send ``body`` and return the status, or None and why none came."""
        all_headers = {"content-type": CONTENT_TYPE, "user-agent": USER_AGENT, **headers}
        try:
            if self._conn is not None:
                try:
                    return self._send(body, all_headers)
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    # the receiver closed the kept-alive connection while it was idle: the
                    # request never arrived, so sending it again on a new one is safe
                    self.close()
            return self._send(body, all_headers)
        except TimeoutError:
            self.close()
            return Answer(None, f"timed out after {self._timeout:g} s")
        except ssl.SSLError as exc:
            self.close()
            return Answer(None, f"TLS error: {exc.reason or type(exc).__name__}")
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Answer(None, _describe(exc))

    def _send(self, body: bytes, headers: dict[str, str]) -> Answer:
        conn = self._connection()
        conn.request("POST", self._target, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.will_close:
            self.close()
        return Answer(response.status)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout
                )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host not found"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__
