"""Draining: how a server stops without losing work (``nestr serve`` on SIGTERM or SIGINT).

:func:`drain` takes a started server through these stages:

1. Its :class:`DrainGate` closes: calls that would start or change work (``StartRun``,
   ``ResumeRun``, ``CancelRun``, ``Assemble``, ``Lock``, ``RemoveWorkspace``, ``Apply``,
   ``Reload``, a new ``Subscribe``) end UNAVAILABLE with :data:`SHUTTING_DOWN`; reads are still
   answered. Health reports NOT_SERVING.
2. Every open ``Subscribe`` stream ends UNAVAILABLE with the ``seq`` to resume from (trailing
   metadata ``nestr-resume-after-seq``, as on an overflow).
3. The runs the server executes stop for a *shutdown* (not a cancel): their steps' process
   groups are terminated, nothing is recorded as ended, and each run is left ``interrupted``
   for the next server to resume (``server.resume_interrupted``).
4. The calls in flight get up to ``grace`` seconds (``server.drain_grace``) to finish; then
   the gRPC server stops, cancelling what is left (after :data:`FLUSH` seconds at least, so
   the statuses of the calls that just ended reach their clients).

A second signal (``hurry``) cuts the drain short: the step groups are SIGKILLed at once instead
of after their grace period and calls in flight are not waited for; the runs are still left
resumable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from grpc import aio

from nestr.observability.logging import get_logger
from nestr.proc.groups import kill_watched
from nestr.server.handlers import aborting, serializers

if TYPE_CHECKING:
    from nestr.server.app import Server
    from nestr.server.auth import Handler

SHUTTING_DOWN = (
    "the server is shutting down: it accepts no new work; retry against the server that replaces it"
)
FLUSH = 0.5  # seconds the final stop grants at least, unless hurried
OWN_PREFIX = "/nestr.v1."  # the calls a drain waits for (not health or reflection)
REFUSED = frozenset(
    f"/nestr.v1.{method}"
    for method in (
        "WorkflowService/StartRun",
        "WorkflowService/ResumeRun",
        "WorkflowService/CancelRun",
        "WorkspaceService/Assemble",
        "WorkspaceService/Lock",
        "WorkspaceService/RemoveWorkspace",
        "SyncService/Apply",
        "ConfigService/Reload",
        "EventService/Subscribe",
    )
)
"""Calls refused once the drain began: each starts or changes work (or opens a stream)."""
log = get_logger("nestr.server")


class DrainGate(aio.ServerInterceptor):
    """Counts nestr's calls in flight; once :meth:`close` d, refuses those of :data:`REFUSED`."""

    def __init__(self) -> None:
        self.closed = False
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def close(self) -> None:
        """Refuse new work from now on."""
        self.closed = True

    async def idle(self) -> None:
        """Until no nestr call is in flight."""
        await self._idle.wait()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(OWN_PREFIX):
            return handler
        if self.closed and method in REFUSED:
            return aborting(handler, grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)
        return self._counted(handler)

    def _counted(self, handler: Handler) -> Handler:
        """``handler`` with its calls counted in :attr:`in_flight` (nestr's calls are unary
        or server-streaming)."""
        shape = serializers(handler)
        if handler.unary_stream is not None:
            inner_stream: Any = handler.unary_stream  # untyped in the stubs' aio shape

            async def streaming(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
                with self._call():
                    responses: AsyncIterator[Any] = inner_stream(request, context)
                    async for response in responses:
                        yield response

            return grpc.unary_stream_rpc_method_handler(streaming, **shape)
        if handler.unary_unary is not None:
            inner: Any = handler.unary_unary

            async def plain(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
                with self._call():
                    return await inner(request, context)

            return grpc.unary_unary_rpc_method_handler(plain, **shape)
        return handler

    @contextlib.contextmanager
    def _call(self) -> Any:
        self.in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()


async def drain(server: Server, grace: float, hurry: asyncio.Event | None = None) -> None:
    """Stop ``server`` as the module docstring says; ``hurry``, once set, cuts it short."""
    hurry = hurry or asyncio.Event()
    if server.gate is not None:
        server.gate.close()
    await server.health.enter_graceful_shutdown()
    server.events.drain()
    runs = len(server.workflows.active) if server.workflows is not None else 0
    log.info("draining", runs=runs, streams=server.events.active, grace=grace)
    if server.workflows is not None:
        server.workflows.shut_down()
    deadline = asyncio.get_running_loop().time() + grace
    hurried = await _settle(server, grace, hurry)
    # what is left of the grace, and always a moment to deliver the statuses of calls that
    # just ended (the streams' resume points): the stop returns once no call is open
    remaining = max(FLUSH, deadline - asyncio.get_running_loop().time())
    await _until_hurried(server.grpc.stop(0 if hurried else remaining), hurry, server)
    if server.workflows is not None:
        await server.workflows.close()
    if server.workspaces is not None:
        await server.workspaces.close()
    log.info("drained", hurried=hurried or hurry.is_set())


async def _settle(server: Server, grace: float, hurry: asyncio.Event) -> bool:
    """Wait until the runs stopped and the calls in flight ended (these for at most ``grace``
    seconds); True when ``hurry`` cut the wait short (the runs' groups are SIGKILLed then, and
    the runs waited for: they stop at once)."""

    async def settled() -> None:
        if server.gate is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await server.gate.idle()
        if server.workflows is not None:
            await server.workflows.stopped()

    waiting = asyncio.create_task(settled())
    signalled = asyncio.create_task(hurry.wait())
    await asyncio.wait({waiting, signalled}, return_when=asyncio.FIRST_COMPLETED)
    signalled.cancel()
    if waiting.done():
        return False
    waiting.cancel()  # never cancels the runs themselves: stopped() waits without gathering
    await asyncio.gather(waiting, signalled, return_exceptions=True)
    # Every group this process started goes now, not after its grace period. A step killed
    # before its run saw the shutdown is recorded failed: not succeeded, so the resume runs
    # it again all the same.
    kill_watched()
    if server.workflows is not None:
        await server.workflows.stopped()
    return True


async def _until_hurried(stopping: Awaitable[None], hurry: asyncio.Event, server: Server) -> None:
    """Await the gRPC server's stop; a ``hurry`` meanwhile stops it without a grace period."""
    stop = asyncio.ensure_future(stopping)
    signalled = asyncio.create_task(hurry.wait())
    await asyncio.wait({stop, signalled}, return_when=asyncio.FIRST_COMPLETED)
    signalled.cancel()
    await asyncio.gather(signalled, return_exceptions=True)
    if not stop.done():
        await server.grpc.stop(0)
    await stop
