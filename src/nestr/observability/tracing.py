"""Spans, as every layer of nestr opens them: a no-op until a tracer is installed.

Code at any layer (git, proc, workflow) marks a unit of work with ``with span("git fetch",
...)``; the OpenTelemetry SDK behind it lives in :mod:`nestr.watchers.tracing`, which installs
itself here only when ``otel.endpoint`` is set. Until then :func:`span` hands back one shared
object whose ``__enter__`` does nothing, :func:`traceparent` is None, and this module has
imported nothing but the standard library: a run with tracing off pays a function call per
span, and ``nestr --help`` never loads OpenTelemetry.

What a span's context reaches: events (their ``traceparent``, stamped where they are made),
log lines (``trace_id``/``span_id``), and child processes (``TRACEPARENT`` through
:func:`nestr.observability.context.child_env`), the W3C Trace Context that a nestr started by a
step continues.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol

ENV_VAR = "TRACEPARENT"
"""Where a child process finds the W3C ``traceparent`` of the span that started it."""

Attribute = str | bool | int | float


class Span(Protocol):
    """An open span: what the code inside it may add as it learns it."""

    def set(self, key: str, value: Attribute) -> None:
        """Set attribute ``key`` (``nestr.attempt.status``, ``process.exit.code``, …)."""

    def fail(self, description: str) -> None:
        """Mark the span failed (an error status) without raising."""


class Tracer(Protocol):
    """What :mod:`nestr.watchers.tracing` installs: spans and the ids of the current one."""

    def span(self, name: str, attributes: Mapping[str, Attribute]) -> AbstractContextManager[Span]:
        """A span named ``name``, current inside the block, child of the current one."""
        ...

    def traceparent(self) -> str | None:
        """The W3C ``traceparent`` of the current span."""
        ...

    def ids(self) -> tuple[str, str] | None:
        """``(trace_id, span_id)`` of the current span, as hex."""
        ...


class _NoSpan:
    """The span of a process that does not trace: one instance, every method a no-op."""

    __slots__ = ()

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set(self, key: str, value: Attribute) -> None:
        """Nothing to record."""

    def fail(self, description: str) -> None:
        """Nothing to record."""


NO_SPAN = _NoSpan()
_tracer: Tracer | None = None


def span(name: str, **attributes: Attribute) -> AbstractContextManager[Span]:
    """A span around the block, child of the current one; a shared no-op when tracing is off.

    ``name`` stays low in cardinality (``git fetch``, ``nestr.attempt``): ids, keys and paths
    go in ``attributes``.
    """
    tracer = _tracer
    if tracer is None:
        return NO_SPAN
    return tracer.span(name, attributes)


def traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None when tracing is off."""
    tracer = _tracer
    return None if tracer is None else tracer.traceparent()


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of the current span for a log line; None when tracing is off."""
    tracer = _tracer
    return None if tracer is None else tracer.ids()


def enabled() -> bool:
    """Whether a tracer is installed (a face adds its tracing interceptors then)."""
    return _tracer is not None


def installed() -> Tracer | None:
    """The tracer spans go to, if any."""
    return _tracer


def install(tracer: Tracer | None) -> None:
    """Make ``tracer`` the one every :func:`span` goes to (None: back to no-ops)."""
    global _tracer  # noqa: PLW0603 - one tracer per process, set by the face that runs
    _tracer = tracer
