"""Handlers that stand in for a service's handler: the same shape on the wire (its
(de)serializers, whether each side streams), another behaviour. The interceptors return them
instead of the service's, to wrap a call (its correlation and log line, counting calls in
flight) or to refuse it (no token, a draining server)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc
from grpc import aio

if TYPE_CHECKING:
    from nestr.server.auth import Handler

_BUILDERS = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler),
    ("unary_stream", grpc.unary_stream_rpc_method_handler),
    ("stream_unary", grpc.stream_unary_rpc_method_handler),
    ("stream_stream", grpc.stream_stream_rpc_method_handler),
)


def serializers(handler: Handler) -> dict[str, Any]:
    """The (de)serializers of ``handler``, as a handler standing in for it takes them."""
    return {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }


def replaced(handler: Handler, behaviour: Callable[[Any], Any]) -> Handler:
    """A handler of ``handler``'s shape whose behaviour is ``behaviour(inner)``, ``inner``
    being ``handler``'s own (``handler`` itself when it has none)."""
    for kind, build in _BUILDERS:
        inner = getattr(handler, kind)
        if inner is not None:
            return build(behaviour(inner), **serializers(handler))
    return handler


def aborting(handler: Handler, code: grpc.StatusCode, details: str) -> Handler:
    """A handler of ``handler``'s shape that ends every call with ``code`` and ``details`` (a
    coroutine serves the streaming shapes too: grpc.aio lets it write, or here abort)."""

    async def abort(request: object, context: aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, details)

    return replaced(handler, lambda _: abort)
