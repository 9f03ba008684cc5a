"""The context one user action carries into everything it causes: its correlation id.

A face starts each action (a CLI invocation, later an RPC) inside :func:`correlation`; from then
on every event published on a bus (:meth:`nestr.events.bus.EventBus.publish` stamps it), every
log line and every child process (``NESTR_CORRELATION_ID`` through :func:`child_env`) carries
the same id, so one query finds all of it. A nestr started by a step of another nestr run joins
that run's correlation: :func:`correlation` without an id takes the inherited one first.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from nestr.observability import tracing
from nestr.observability.logging import bind_context, reset

ENV_VAR = "NESTR_CORRELATION_ID"

# What an inherited id may look like: it reaches events, logs and other processes' environments.
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_current: ContextVar[str | None] = ContextVar("nestr_correlation_id", default=None)


def new_correlation_id() -> str:
    """A fresh random id (32 hex digits)."""
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    """The id of the action running in this context, if any."""
    return _current.get()


def usable_correlation_id(value: str | None) -> str | None:
    """``value`` if it may serve as a correlation id from outside (an inherited variable, an
    RPC's metadata), else None."""
    return value if value is not None and _VALID.fullmatch(value) else None


def inherited_correlation_id() -> str | None:
    """``$NESTR_CORRELATION_ID`` when it holds a usable id (a parent nestr set it)."""
    return usable_correlation_id(os.environ.get(ENV_VAR))


@contextmanager
def correlation(correlation_id: str | None = None) -> Iterator[str]:
    """Run the body as one action: ``correlation_id``, else the inherited one, else a new one.

    Nested use with no id keeps the enclosing action's id.
    """
    cid = correlation_id or _current.get() or inherited_correlation_id() or new_correlation_id()
    token = _current.set(cid)
    try:
        with bind_context(correlation_id=cid):
            yield cid
    finally:
        reset(_current, token)


def child_env() -> dict[str, str]:
    """The variables a child process gets so that what it does joins this action: its
    correlation id and, when tracing, the ``TRACEPARENT`` of the current span."""
    cid = _current.get()
    env = {ENV_VAR: cid} if cid else {}
    parent = tracing.traceparent()
    if parent is not None:
        env[tracing.ENV_VAR] = parent
    return env
