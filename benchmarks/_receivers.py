"""Peers the watcher benchmark sends to: an OTLP/gRPC trace receiver and a webhook receiver.

Both accept and count, nothing more, so what a row measures is the watcher's cost on the
server's side, not the peer's work (tests verify what arrives: tests/watchers).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - the benchmark's own secret


@contextmanager
def otlp_sink() -> Iterator[tuple[str, list[int]]]:
    """An OTLP/gRPC ``TraceService`` on 127.0.0.1 answering every export; yields its endpoint
    and a one-item list counting the spans received."""
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as pb
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as pb_grpc

    spans = [0]

    class Sink(pb_grpc.TraceServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> Any:
            spans[0] += sum(
                len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans
            )
            return pb.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_TraceServiceServicer_to_server(Sink(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", spans
    finally:
        server.stop(0)


@contextmanager
def webhook_sink() -> Iterator[tuple[str, list[int]]]:
    """An HTTP receiver on 127.0.0.1 answering 204 to every POST; yields its URL and a
    one-item list counting the deliveries."""
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            count[0] += 1
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", count
    finally:
        server.shutdown()
        server.server_close()
