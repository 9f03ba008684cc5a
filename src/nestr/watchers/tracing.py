"""OpenTelemetry behind nestr's spans: the SDK, OTLP export and W3C Trace Context.

:mod:`nestr.observability.tracing` is what the code calls; this module is what answers once a
face turns tracing on (``otel.endpoint`` set): :func:`start_tracing` builds a tracer provider
that exports to the endpoint in batches and installs an :class:`OtelTracer` there, and
:meth:`Tracing.close` ends it (flushing what is left, which a short CLI command needs). It is
imported only then: ``opentelemetry`` never loads in a process that does not trace.

One trace per user action: a CLI command opens the root span (:meth:`Tracing.begin`), or a
gRPC call does (:mod:`nestr.watchers.tracing_grpc`), and everything the action causes is
below it. A nestr started with ``TRACEPARENT`` in its environment (a step running ``nestr
...``) continues that trace. Spans opened where no span is current (a worker thread, a task
made before the root began) fall back to the action's root, so they never start traces of
their own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from nestr import __version__
from nestr.observability import tracing
from nestr.observability.tracing import Attribute

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from nestr.config.settings import OtelSettings

_PROPAGATOR = TraceContextTextMapPropagator()


_TRACEPARENT: ContextVar[str | None] = ContextVar("nestr_traceparent", default=None)
"""The W3C ``traceparent`` of the current nestr span, set beside OpenTelemetry's context by
:meth:`OtelTracer.attach`: every event asks for it (two or three per step), and reading one
context variable costs a fraction of walking OpenTelemetry's context to the span."""


class _OtelSpan:
    """One open span: made current on enter, ended on exit (its error status set by an
    exception). A class, not a generator-based context manager: a run opens one per try."""

    __slots__ = ("_span", "_tokens", "_tracer")

    def __init__(self, tracer: OtelTracer, span: trace.Span) -> None:
        self._tracer = tracer
        self._span = span
        self._tokens: Attached | None = None

    def __enter__(self) -> _OtelSpan:
        self._tokens = self._tracer.attach(self._span)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.fail(_described(exc))
        if self._tokens is not None:
            detach(self._tokens)
        self._span.end()

    def set(self, key: str, value: Attribute) -> None:
        self._span.set_attribute(key, value)

    def fail(self, description: str) -> None:
        self._span.set_status(Status(StatusCode.ERROR, description))


Attached = tuple[Token[otel_context.Context], Token[str | None]]


def detach(tokens: Attached) -> None:
    """Undo :meth:`OtelTracer.attach`."""
    context, parent = tokens
    _TRACEPARENT.reset(parent)
    otel_context.detach(context)


class OtelTracer:
    """The :class:`~nestr.observability.tracing.Tracer` nestr's spans go to when tracing."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer("nestr", __version__)
        self.root: otel_context.Context | None = None  # the action's, when nothing is current
        self._root_parent: str | None = None  # its traceparent

    def span(self, name: str, attributes: Mapping[str, Attribute]) -> _OtelSpan:
        return _OtelSpan(self, self.start(name, attributes))

    def start(
        self,
        name: str,
        attributes: Mapping[str, Attribute],
        *,
        parent: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        start_time: int | None = None,
    ) -> trace.Span:
        """A span, not yet current: child of ``parent``, else of the current span, else of
        the action's root."""
        if parent is None and not trace.get_current_span().get_span_context().is_valid:
            parent = self.root
        return self._tracer.start_span(
            name, parent, kind=kind, attributes=attributes, start_time=start_time
        )

    def attach(self, span: trace.Span) -> Attached:
        """Make ``span`` current (for OpenTelemetry and for :meth:`traceparent`) until
        :func:`detach` is given what this returns."""
        context = otel_context.attach(trace.set_span_in_context(span))
        return context, _TRACEPARENT.set(_traceparent(span.get_span_context()))

    def set_root(self, root: trace.Span | None) -> None:
        """The span of the action, parent of spans opened where none is current."""
        self.root = None if root is None else trace.set_span_in_context(root)
        self._root_parent = None if root is None else _traceparent(root.get_span_context())

    def traceparent(self) -> str | None:
        current = _TRACEPARENT.get()
        return self._root_parent if current is None else current

    def ids(self) -> tuple[str, str] | None:
        found = self._current()
        return None if found is None else (f"{found[0]:032x}", f"{found[1]:016x}")

    def _current(self) -> tuple[int, int, int] | None:
        ctx = trace.get_current_span().get_span_context()
        if not ctx.is_valid and self.root is not None:
            ctx = trace.get_current_span(self.root).get_span_context()
        return (ctx.trace_id, ctx.span_id, int(ctx.trace_flags)) if ctx.is_valid else None


def _traceparent(ctx: trace.SpanContext) -> str | None:
    """The W3C ``traceparent`` of a span context (None: not a valid one)."""
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


class Tracing:
    """Tracing turned on for one face's lifetime; a context manager that turns it off.

    ``begin`` opens the action's root span (a CLI command); :meth:`close` (or leaving the
    ``with`` block, whose exception marks the root failed) ends it, uninstalls the tracer
    and flushes every span still queued for export.
    """

    def __init__(self, tracer: OtelTracer) -> None:
        self.tracer = tracer
        self._root: trace.Span | None = None

    def begin(self, name: str, *, start_time: int | None = None, **attributes: Attribute) -> None:
        """Open the root span of the action, child of an inherited ``TRACEPARENT``."""
        inherited = _PROPAGATOR.extract({"traceparent": os.environ.get(tracing.ENV_VAR, "")})
        self._root = self.tracer.start(
            name, attributes, parent=inherited, kind=SpanKind.SERVER, start_time=start_time
        )
        self.tracer.set_root(self._root)

    def close(self, error: BaseException | None = None) -> None:
        """End the root span (failed with ``error``), stop tracing, export what is queued."""
        if self._root is not None:
            if error is not None:
                self._root.set_status(Status(StatusCode.ERROR, _described(error)))
            self._root.end()
            self._root = None
        self.tracer.set_root(None)
        tracing.install(None)
        self.tracer.provider.shutdown()

    def __enter__(self) -> Tracing:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(None if exc is None or _success(exc) else exc)


def start_tracing(settings: OtelSettings, *, processor: SpanProcessor | None = None) -> Tracing:
    """Turn tracing on: spans go to ``settings.endpoint`` in batches (or to ``processor``,
    which tests give an in-memory exporter through)."""
    provider = TracerProvider(resource=_resource(settings))
    provider.add_span_processor(processor or _batch(exporter(settings)))
    tracer = OtelTracer(provider)
    tracing.install(tracer)
    return Tracing(tracer)


def exporter(settings: OtelSettings) -> SpanExporter:
    """The OTLP exporter of ``settings.protocol`` to ``settings.endpoint``."""
    endpoint = settings.endpoint
    assert endpoint is not None
    headers = _headers(settings)
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint, headers=headers)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(endpoint=http_traces_url(endpoint), headers=headers)


def http_traces_url(endpoint: str) -> str:
    """The URL spans are posted to: the endpoint with ``/v1/traces`` when it names no path
    (as ``OTEL_EXPORTER_OTLP_ENDPOINT`` is read), else the endpoint as given."""
    from urllib.parse import urlsplit

    if urlsplit(endpoint).path in {"", "/"}:
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


def _headers(settings: OtelSettings) -> dict[str, str] | None:
    """``otel.headers`` (``key=value,key=value``, the ``OTEL_EXPORTER_OTLP_HEADERS`` form)."""
    if settings.headers is None:
        return None
    from urllib.parse import unquote

    pairs = (item.partition("=") for item in settings.headers.get_secret_value().split(","))
    return {unquote(k).strip().lower(): unquote(v).strip() for k, _, v in pairs if k.strip()}


def _resource(settings: OtelSettings) -> Resource:
    return Resource.create({"service.name": settings.service_name, "service.version": __version__})


def _batch(exporter: SpanExporter) -> SpanProcessor:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(exporter)


def _described(exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return f"{type(exc).__name__}: {exc}"


def _success(exc: BaseException) -> bool:
    """An exit that is no failure: ``click``'s ``Exit(0)``, ``SystemExit(0)``."""
    return getattr(exc, "exit_code", getattr(exc, "code", None)) == 0
