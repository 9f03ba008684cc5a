"""The ``/metrics`` endpoint: a follower of the event log feeding :class:`EventMetrics`, served
over HTTP by ``prometheus_client``.

``nestr serve`` (with ``metrics.listen`` set) and ``nestr metrics serve`` both start one
:class:`MetricsEndpoint` over their session. On start it replays the whole log once, then counts
each new event as it is appended: counters are totals over the log, the same after a restart
(Prometheus sees no reset it would have to guess across) and the same for two endpoints over one
log. The replay reads tens of thousands of events a second and gives the loop a turn every
:data:`YIELD_EVERY` events, so a server with a long history serves calls while it catches up.

Only the face that starts an endpoint imports this module: with ``metrics.listen`` unset nothing
imports ``prometheus_client``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from prometheus_client import make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from nestr.errors import EXIT_USAGE, NestrError
from nestr.observability.logging import get_logger
from nestr.watchers.metrics import EventMetrics

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from nestr.events import Event

log = get_logger("nestr.watchers.metrics")

YIELD_EVERY = 500  # events counted between turns given to the event loop
POLL = 0.05  # seconds between checks for other processes' commits


class MetricsConfigError(NestrError):
    """``metrics.listen`` is not an address the endpoint can use (exit 2)."""

    exit_code = EXIT_USAGE


class EventSource(Protocol):
    """What the endpoint follows: a session (``nestr.session.Session``) or anything like it."""

    def follow_events(
        self, *, since: int | None = 0, poll: float | None = None
    ) -> AsyncIterator[Event]:
        """Stored events after ``since``, then every new one as it is appended."""
        ...


class StreamStats(Protocol):
    """The event streams of a server (``EventService``): read at each scrape, from the HTTP
    thread, so only plain attributes and a cheap method."""

    active: int
    overflows: int

    def backlog(self) -> int:
        """Events queued for the slowest open stream."""
        ...


class StreamCollector(Collector):
    """The server's stream gauges, read when Prometheus scrapes (never stale, no updates)."""

    def __init__(self, streams: StreamStats) -> None:
        self.streams = streams

    def collect(self) -> Iterable[Metric]:
        streams = self.streams
        yield GaugeMetricFamily(
            "nestr_stream_subscribers", "Open Subscribe streams of the gRPC server.", streams.active
        )
        yield GaugeMetricFamily(
            "nestr_stream_lag_events",
            "Events queued for the slowest open Subscribe stream (it overflows at the limit).",
            streams.backlog(),
        )
        yield CounterMetricFamily(
            "nestr_stream_overflows",
            "Subscribe streams ended because their subscriber fell too far behind.",
            streams.overflows,
        )


def parse_listen(listen: str) -> tuple[str, int]:
    """The host and port of ``metrics.listen`` (``host:port``, ``[v6]:port``; port 0: any)."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise MetricsConfigError(
            f"metrics.listen: {listen!r} is not host:port", hint="e.g. 127.0.0.1:9464"
        )
    return host, int(port)


@dataclass
class MetricsEndpoint:
    """A running endpoint: its HTTP server (a thread of its own) and the follower task."""

    metrics: EventMetrics
    http: WSGIServer
    host: str
    port: int
    task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    @classmethod
    def start(
        cls, source: EventSource, *, listen: str, streams: StreamStats | None = None
    ) -> MetricsEndpoint:
        """Serve ``/metrics`` on ``listen`` and start counting ``source``'s events (in the
        running loop); ``streams``: a server's streams, for the stream gauges."""
        host, port = parse_listen(listen)
        metrics = EventMetrics()
        if streams is not None:
            metrics.registry.register(StreamCollector(streams))
        http = _serve_http(metrics, host, port)
        endpoint = cls(metrics, http, host, int(http.server_address[1]))
        endpoint.task = asyncio.create_task(_count(source, metrics))
        return endpoint

    async def stop(self) -> None:
        """Stop counting and serving."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await asyncio.to_thread(self.http.shutdown)
        self.http.server_close()


async def _count(source: EventSource, metrics: EventMetrics) -> None:
    """Replay the log, then count each new event, until cancelled."""
    counted = 0
    try:
        async for event in source.follow_events(since=0, poll=POLL):
            metrics.observe(event)
            counted += 1
            if counted % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a long replay must not hold the loop
    except asyncio.CancelledError:
        raise
    except Exception:  # the endpoint goes on serving what it counted; the log says why
        log.exception("metrics.follow_failed", last_seq=metrics.last_seq)


def _serve_http(metrics: EventMetrics, host: str, port: int) -> WSGIServer:
    """``prometheus_client``'s WSGI app on ``host:port``, served by a daemon thread."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Scrapes are not logged (one every few seconds)."""

    class Server(WSGIServer):
        address_family = _family(host)
        daemon_threads = True

    try:
        app = _only_metrics(make_wsgi_app(metrics.registry))
        http = make_server(host, port, app, Server, Quiet)
    except OSError as exc:
        raise NestrError(
            f"metrics.listen: cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another metrics.listen (port 0 picks a free one)",
        ) from exc
    threading.Thread(target=http.serve_forever, name="nestr-metrics", daemon=True).start()
    return http


def _only_metrics(app: WSGIApplication) -> WSGIApplication:
    """``app`` at ``/metrics``; 404 elsewhere (a typo in a scrape config shows as an error)."""

    def serve(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/").rstrip("/") == "/metrics":
            return app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"nestr serves its metrics at /metrics\n"]

    return serve


def _family(host: str) -> int:
    import socket

    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:  # a name: IPv4, as prometheus_client's own server resolves it
        return socket.AF_INET
