"""A real OTLP/gRPC trace receiver on 127.0.0.1: ``opentelemetry-proto``'s ``TraceService``,
keeping every span it is sent (what a collector such as Jaeger receives)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as pb_grpc


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as it arrived: ids in hex, ``parent`` empty for a root."""

    name: str
    trace_id: str
    span_id: str
    parent: str
    attributes: dict[str, Any]
    service: str

    @property
    def traceparent_ids(self) -> tuple[str, str]:
        return self.trace_id, self.span_id


class _Service(pb_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()

    def Export(self, request: pb.ExportTraceServiceRequest, context: Any) -> Any:
        received = []
        for resource in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope in resource.scope_spans:
                received += [_span(span, service) for span in scope.spans]
        with self.lock:
            self.spans += received
        return pb.ExportTraceServiceResponse()


def _span(span: Any, service: str) -> ReceivedSpan:
    attributes = {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}
    return ReceivedSpan(
        span.name,
        span.trace_id.hex(),
        span.span_id.hex(),
        span.parent_span_id.hex(),
        attributes,
        service,
    )


class Receiver:
    """The spans received so far, and the endpoint to send them to."""

    def __init__(self, service: _Service, port: int) -> None:
        self._service = service
        self.endpoint = f"http://127.0.0.1:{port}"

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._service.lock:
            return list(self._service.spans)

    def named(self, name: str) -> list[ReceivedSpan]:
        return [s for s in self.spans if s.name == name]


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    """A receiver on a free port of 127.0.0.1, stopped when the block ends."""
    service = _Service()
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_TraceServiceServicer_to_server(service, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield Receiver(service, port)
    finally:
        server.stop(None).wait()
