"""Each RPC is one action: it runs in its own correlation and is logged once when it ends.

The correlation id is the client's ``x-correlation-id`` metadata when it is usable, else a new
one; the handler runs inside :func:`nestr.observability.context.correlation` (events it causes
and lines it logs carry the id), the client gets the id back as initial metadata
``x-correlation-id``, and one ``rpc`` line is logged at info level with the method, the status
code and the seconds taken. Other metadata is never logged: the bearer token is metadata.
The call also runs as its caller (:mod:`nestr.server.callers`), whom the audit trail names.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import grpc
from grpc import aio

from nestr.observability.context import correlation, new_correlation_id, usable_correlation_id
from nestr.observability.logging import get_logger
from nestr.server.callers import caller_of, calling
from nestr.server.handlers import replaced

if TYPE_CHECKING:
    from nestr.server.auth import Handler, TokenInterceptor

KEY = "x-correlation-id"
log = get_logger("nestr.server")


class CallInterceptor(aio.ServerInterceptor):
    """Run every call in its correlation and as its caller, tell the client its id, log how it
    ended; ``auth``: the interceptor that checks the token (its current token names callers)."""

    def __init__(self, auth: TokenInterceptor | None = None) -> None:
        self._auth = auth

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        given = next(
            (v for k, v in handler_call_details.invocation_metadata or () if k == KEY), None
        )
        cid = usable_correlation_id(given if isinstance(given, str) else None)
        return _wrapped(handler, handler_call_details.method, cid, self._token)

    def _token(self) -> str | None:
        return None if self._auth is None else self._auth.token


Token = Callable[[], str | None]


@contextmanager
def _call(
    method: str, context: aio.ServicerContext[Any, Any], cid: str | None, token: Token
) -> Iterator[str]:
    """The correlation and caller of one call, and its log line when it ends (however)."""
    started = time.perf_counter()
    code = "UNKNOWN"
    caller = caller_of(context, token=token())
    # a new id, not the enclosing one: the process serving runs in an action of its own
    with correlation(cid or new_correlation_id()) as current, calling(caller):
        try:
            yield current
            code = _code(context, default="OK")
        except BaseException as exc:
            code = _code(context, default=_code_of(exc))
            raise
        finally:
            seconds = round(time.perf_counter() - started, 6)
            log.info("rpc", method=method, code=code, seconds=seconds)


def _code(context: aio.ServicerContext[Any, Any], *, default: str) -> str:
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else default


def _code_of(exc: BaseException) -> str:
    return "CANCELLED" if isinstance(exc, asyncio.CancelledError | GeneratorExit) else "UNKNOWN"


def _wrapped(handler: Handler, method: str, cid: str | None, token: Token) -> Handler:
    """``handler`` with each call run by :func:`_call` and the id sent first."""
    return replaced(handler, lambda inner: _behaviour(inner, method, cid, token))


def _behaviour(inner: Any, method: str, cid: str | None, token: Token) -> Any:
    """A behaviour of the same style as ``inner`` (async generator or coroutine)."""
    if inspect.isasyncgenfunction(inner):

        async def streaming(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            with _call(method, context, cid, token) as current:
                await context.send_initial_metadata(((KEY, current),))
                responses: AsyncIterator[Any] = inner(request, context)
                async for response in responses:
                    yield response

        return streaming

    async def plain(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        with _call(method, context, cid, token) as current:
            await context.send_initial_metadata(((KEY, current),))
            return await inner(request, context)

    return plain
