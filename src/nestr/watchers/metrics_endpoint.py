"""The ``/metrics`` endpoint: a follower of the event log feeding :class:`EventMetrics`, served
over HTTP by ``prometheus_client``.

``nestr serve`` (with ``metrics.listen`` set) and ``nestr metrics serve`` both start one
:class:`MetricsEndpoint` over their session. On start it replays the whole log once, then counts
each new event as it is appended: counters are totals over the log, the same after a restart
(Prometheus sees no reset it would have to guess across) and the same for two endpoints over one
log. The replay reads tens of thousands of events a second and gives the loop a turn after each
page, so a server with a long history serves calls while it catches up.

The follower counts in batches, every :data:`TICK` seconds, so that watching costs the work it
watches next to nothing: this process's events are handed over by a bus listener (one append to
a deque per event, inline, no task woken), and whatever the log holds beyond them (other
processes' events, or all of them before the first tick) is read from the log in pages. Events
are counted once each, in ``seq`` order. A scrape is at most one tick behind the log.

Only the face that starts an endpoint imports this module: with ``metrics.listen`` unset nothing
imports ``prometheus_client``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections import deque
from collections.abc import Iterable
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

    from prometheus_client import CollectorRegistry

    from nestr.events import Event, EventBus

log = get_logger("nestr.watchers.metrics")

TICK = 0.25  # seconds between counting turns (a scrape is at most this far behind)
PAGE = 1000  # events read from the log at once


class MetricsConfigError(NestrError):
    """``metrics.listen`` is not an address the endpoint can use (exit 2)."""

    exit_code = EXIT_USAGE


class EventSource(Protocol):
    """What the endpoint follows: a session (``nestr.session.Session``) or anything like it."""

    @property
    def bus(self) -> EventBus:
        """The bus this process publishes on (its events reach the log through it)."""
        ...

    def event_head(self) -> int:
        """The last ``seq`` of the log."""
        ...

    def event_page(self, *, after_seq: int, limit: int) -> tuple[list[Event], int, bool]:
        """At most ``limit`` stored events after ``after_seq``, where the next page starts,
        and whether this one reached the head."""
        ...


class StreamStats(Protocol):
    """The event streams of a server (``EventService``): read at each scrape, from the HTTP
    thread, so only plain attributes and a cheap method."""

    overflows: int

    @property
    def active(self) -> int:
        """Open streams."""
        ...

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
        registry = metrics.registry()
        if streams is not None:
            registry.register(StreamCollector(streams))
        http = _serve_http(registry, host, port)
        endpoint = cls(metrics, http, host, int(http.server_address[1]))
        endpoint.task = asyncio.create_task(LogCounter(source, metrics).run())
        return endpoint

    async def stop(self) -> None:
        """Stop counting and serving."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await asyncio.to_thread(self.http.shutdown)
        self.http.server_close()


class LogCounter:
    """Counts every event of ``source``'s log into ``metrics``, once each, in ``seq`` order:
    this process's events as its bus hands them over, the rest read from the log."""

    def __init__(self, source: EventSource, metrics: EventMetrics) -> None:
        self.source = source
        self.metrics = metrics
        self.handed: deque[Event] = deque()  # appended by the bus, from any thread

    async def run(self, tick: float = TICK) -> None:
        """Count, then again every ``tick`` seconds, until cancelled."""
        remove = self.source.bus.add_listener(self.handed.append)
        try:
            while True:
                await self.count()
                await asyncio.sleep(tick)
        except asyncio.CancelledError:
            raise
        except Exception:  # the endpoint goes on serving what it counted; the log says why
            log.exception("metrics.count_failed", last_seq=self.metrics.last_seq)
        finally:
            remove()

    async def count(self) -> None:
        """Count everything up to the head of the log and the last event handed over: the
        handed events in the order they came (most often each the next ``seq``), and what
        is missing between them (other processes' events, or ones handed over out of order)
        read from the log."""
        head = self.source.event_head()
        metrics, handed = self.metrics, self.handed
        observe = metrics.observe
        while True:
            seq = metrics.last_seq
            while handed:
                number = handed[0].seq
                if number is not None and number > seq + 1:
                    break  # a gap before it: read from the log below
                event = handed.popleft()
                if number is not None and number == seq + 1:
                    observe(event)
                    seq = number
            if not handed and seq >= head:
                return
            page, _, _ = self.source.event_page(after_seq=seq, limit=PAGE)
            if not page:
                return  # handed over but not visible yet: the next turn reads it
            for event in page:
                observe(event)
            await asyncio.sleep(0)  # a long replay must not hold the loop


def _serve_http(registry: CollectorRegistry, host: str, port: int) -> WSGIServer:
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
        app = _only_metrics(make_wsgi_app(registry))
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
