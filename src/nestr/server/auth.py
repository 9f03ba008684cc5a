"""Bearer-token authentication: every RPC but health checks must carry the server's token.

A server interceptor sees every call, unary and streaming alike, before its handler runs; a
call without ``authorization: Bearer <token>`` (or with another token) ends UNAUTHENTICATED
without reaching the service. Health stays open so that load balancers and orchestrators can
probe the server without a secret. The token is compared in constant time and never appears in
a message or a log line.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc
from grpc import aio

from nestr.server.handlers import aborting

OPEN_PREFIX = "/grpc.health.v1.Health/"  # health checks need no token
if TYPE_CHECKING:  # generic in the stubs only
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]
DENIED = "missing or wrong bearer token (send metadata 'authorization: Bearer <server.token>')"


class TokenInterceptor(aio.ServerInterceptor):
    """Refuse calls that do not present ``token`` as a bearer token (None: let every call in).

    The token is read at the start of each call, so a reload that sets :attr:`token` takes
    effect on the next call while calls already running (open streams) go on.
    """

    def __init__(self, token: str | None) -> None:
        self.token = token

    @property
    def token(self) -> str | None:
        """Never logged: a property so that the expected header is built once per change."""
        return self._token

    @token.setter
    def token(self, token: str | None) -> None:
        self._token = token
        self._expected = None if token is None else f"Bearer {token}".encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_PREFIX):
            return handler
        if self._allowed(handler_call_details.invocation_metadata or ()):
            return handler
        return aborting(handler, grpc.StatusCode.UNAUTHENTICATED, DENIED)

    def _allowed(self, metadata: Any) -> bool:
        expected = self._expected
        if expected is None:
            return True
        for key, value in metadata:
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else bytes(value)
                return hmac.compare_digest(given, expected)
        return False
