"""nestr's errors as gRPC statuses: one table, used by every service.

A call that fails with a :class:`~nestr.errors.NestrError` ends with the status code its class
maps to and the message the CLI prints (an input error's message starts with the file:line it
names); its hint, when it has one, travels as trailing metadata ``nestr-hint``, and
``google.rpc`` details say the same for programs (:mod:`nestr.server.details`). Any
other exception is a bug: the call ends INTERNAL with a short message naming the exception's
type, and the traceback goes to the server's log only.

===========================  ======================  =====================================
nestr error                  gRPC status             example
===========================  ======================  =====================================
``NotFound``                 ``NOT_FOUND``           unknown run, workflow or step
``RunBusy``, ``ConflictsLeft`` ``FAILED_PRECONDITION`` resuming a run that is still running
``Refused``                  ``FAILED_PRECONDITION`` removing a workspace with local work
``InputError`` (the rest)    ``INVALID_ARGUMENT``    a bad workflow file, a bad ``--var``
``Interrupted``              ``CANCELLED``           the work was stopped
other ``NestrError``         ``INTERNAL``            a git command failed
anything else                ``INTERNAL``            a bug (traceback in the server log)
===========================  ======================  =====================================
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc
from grpc import aio

from nestr.errors import ConflictsLeft, InputError, Interrupted, NestrError, NotFound
from nestr.observability.logging import get_logger
from nestr.server.details import error_details, status_metadata

HINT_KEY = "nestr-hint"
log = get_logger("nestr.server")

Self_ = TypeVar("Self_")
Request = TypeVar("Request")
Response = TypeVar("Response")
Context = aio.ServicerContext[Any, Any]
Handler = Callable[[Self_, Request, Context], Awaitable[Response]]


class Refused(NestrError):
    """What is on disk refuses the call (a workspace holding local work): changing it (or
    ``force``) lets the same call succeed."""


def status_code(error: NestrError) -> grpc.StatusCode:
    """The gRPC status code a call failing with ``error`` ends with."""
    from nestr.store.runs import RunBusy

    if isinstance(error, NotFound):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(error, RunBusy | ConflictsLeft | Refused):
        return grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(error, InputError):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(error, Interrupted):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.INTERNAL


async def abort(context: Context, error: BaseException) -> NoReturn:
    """End the call with the status ``error`` maps to (see the module's table)."""
    if isinstance(error, NestrError):
        code = status_code(error)
        trailing = status_metadata(code, error.message, error_details(error, code))
        if error.hint:  # metadata values are ASCII: other characters travel escaped
            hint = error.hint.encode("ascii", "backslashreplace").decode("ascii")
            trailing = ((HINT_KEY, hint), *trailing)
        await context.abort(code, error.message, trailing_metadata=trailing)
    log.error("rpc failed", error=type(error).__name__, exc_info=error)
    await context.abort(
        grpc.StatusCode.INTERNAL,
        f"internal error ({type(error).__name__}); the server's log has the details",
    )


def mapped(handler: Handler[Self_, Request, Response]) -> Handler[Self_, Request, Response]:
    """A unary handler whose nestr errors (and bugs) end the call as the table says."""

    @functools.wraps(handler)
    async def call(self: Self_, request: Request, context: Context) -> Response:
        try:
            return await handler(self, request, context)
        except aio.AbortError:
            raise  # the handler ended the call itself
        except Exception as exc:
            await abort(context, exc)

    return call
