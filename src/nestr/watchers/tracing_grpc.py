"""W3C Trace Context over gRPC: a call is a span on both sides, its ``traceparent`` metadata
joining the client's trace to the server's.

:class:`ServerTracing` (installed by ``nestr serve`` when tracing) opens a server span for each
unary call to a nestr service, child of the ``traceparent`` the client sent, else the root of a
trace of its own; what the call starts (a run, its steps, their processes) is below it, also
when it outlives the call. Long-lived streams (``Subscribe``), health checks and reflection get
no span: a span that lasts as long as a connection says nothing about work.

:func:`client_interceptors` is what a client channel takes (``interceptors=``): each unary call
is a client span whose ``traceparent`` goes out as metadata, and a streaming call carries the
current one; none when tracing is off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from grpc import aio
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from nestr.observability import tracing
from nestr.watchers.tracing import OtelTracer, detach

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]

KEY = "traceparent"
TRACED_PREFIX = "/nestr."  # nestr's own services; not grpc.health.v1 or reflection
_PROPAGATOR = TraceContextTextMapPropagator()


def _tracer() -> OtelTracer | None:
    installed = tracing.installed()
    return installed if isinstance(installed, OtelTracer) else None


def server_interceptors() -> list[aio.ServerInterceptor]:
    """The interceptors a server adds first when tracing is on (none when off)."""
    return [ServerTracing()] if _tracer() is not None else []


class ServerTracing(aio.ServerInterceptor):
    """A server span around each unary call to a nestr service (see the module)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or not method.startswith(TRACED_PREFIX):
            return handler
        metadata = handler_call_details.invocation_metadata or ()
        parent = next((v for k, v in metadata if k == KEY and isinstance(v, str)), None)
        return grpc.unary_unary_rpc_method_handler(
            _traced(handler.unary_unary, method, parent),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _traced(inner: Any, method: str, parent: str | None) -> Any:
    async def behaviour(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        tracer = _tracer()
        if tracer is None:  # tracing ended while the server runs on (a test's server)
            return await inner(request, context)
        service, _, name = method.lstrip("/").partition("/")
        carrier = _PROPAGATOR.extract({KEY: parent} if parent else {})
        span = tracer.start(
            method.lstrip("/"),
            _rpc_attributes(service, name),
            parent=carrier,
            kind=SpanKind.SERVER,
        )
        tokens = tracer.attach(span)
        try:
            response = await inner(request, context)
        except BaseException as exc:
            _ended(span, context.code(), exc)
            raise
        else:
            _ended(span, context.code(), None)
            return response
        finally:
            detach(tokens)
            span.end()

    return behaviour


def _rpc_attributes(service: str, method: str) -> dict[str, str]:
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}


def _ended(span: trace.Span, code: object, error: BaseException | None) -> None:
    """Status of a call's span: the status code the handler set, else OK or the error's."""
    status = code if isinstance(code, grpc.StatusCode) else None
    if status is None:
        status = grpc.StatusCode.OK if error is None else grpc.StatusCode.UNKNOWN
    span.set_attribute("rpc.grpc.status_code", status.value[0])
    if status is not grpc.StatusCode.OK:
        span.set_status(Status(StatusCode.ERROR, f"{status.name}: {error or ''}".rstrip(": ")))


def client_interceptors() -> list[
    aio.UnaryUnaryClientInterceptor | aio.UnaryStreamClientInterceptor
]:
    """What a client channel passes as ``interceptors=`` (an empty list when tracing is off:
    pass it always)."""
    if _tracer() is None:
        return []
    return [_UnaryClient(), _StreamClient()]


def _with_traceparent(details: aio.ClientCallDetails) -> aio.ClientCallDetails:
    """``details`` with the current span's ``traceparent`` added to its metadata."""
    parent = tracing.traceparent()
    if parent is None:
        return details
    metadata = aio.Metadata(*(details.metadata or ()))
    metadata[KEY] = parent  # one value: a retry must not send two
    return aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


class _UnaryClient(aio.UnaryUnaryClientInterceptor):
    """A client span around each unary call, its ``traceparent`` sent as metadata."""

    async def intercept_unary_unary(
        self,
        continuation: Callable[[aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        tracer = _tracer()
        if tracer is None:
            return await continuation(client_call_details, request)
        method = _method_name(client_call_details.method)
        service, _, name = method.partition("/")
        span = tracer.start(method, _rpc_attributes(service, name), kind=SpanKind.CLIENT)
        tokens = tracer.attach(span)
        try:
            call = await continuation(_with_traceparent(client_call_details), request)
            code = await call.code()  # the call's end: the span covers the whole call
        finally:
            detach(tokens)
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code is not grpc.StatusCode.OK:
            span.set_status(Status(StatusCode.ERROR, code.name))
        span.end()
        return call


class _StreamClient(aio.UnaryStreamClientInterceptor):
    """A streaming call (``Subscribe``) carries the current ``traceparent``, with no span."""

    async def intercept_unary_stream(
        self,
        continuation: Callable[[aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_with_traceparent(client_call_details), request)


def _method_name(method: str | bytes) -> str:
    text = method.decode() if isinstance(method, bytes) else method
    return text.lstrip("/")
