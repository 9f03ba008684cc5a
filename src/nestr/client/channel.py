"""The one way the CLI reaches a server: a ``grpc.aio`` channel made from the settings.

The address is ``--server`` (or ``server.address``); the bearer token is ``server.token`` (or
``server.token_file``), added to every call, streams included, by an interceptor; TLS is used
when ``server.tls.ca`` (the CA to trust) or ``server.tls.client_cert`` (mTLS) is set; keepalive
pings find a dead server. Callers add their own client interceptors (tracing) in front of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from grpc import aio

from nestr.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from nestr.config.settings import ServerSettings, TlsSettings

KEEPALIVE_SECONDS = 30  # a ping after this long without traffic (the server allows >= 10 s)
KEEPALIVE_TIMEOUT = 10  # a ping unanswered this long closes the connection
TLS_HINT = "set it to a readable PEM file (a relative path is relative to its config file)"

Interceptor = (
    aio.UnaryUnaryClientInterceptor
    | aio.UnaryStreamClientInterceptor
    | aio.StreamUnaryClientInterceptor
    | aio.StreamStreamClientInterceptor
)


def open_channel(
    server: ServerSettings,
    *,
    address: str | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> aio.Channel:
    """A channel to ``address`` (default ``server.address``) with the token, TLS files and
    keepalive of ``server``; ``interceptors`` run before the token is added (outermost first),
    after the tracing ones that carry the caller's span (when tracing is on)."""
    address = address or server.address
    if not address:
        raise UsageError(
            "no server address: server.address is not set",
            field="server.address",
            hint="pass --server HOST:PORT or set server.address",
        )
    chain: list[Interceptor] = [*_traced(), *interceptors]
    if server.token is not None:
        metadata = (("authorization", f"Bearer {server.token.get_secret_value()}"),)
        chain += [_UnaryMetadata(metadata), _StreamMetadata(metadata)]
    options = [
        ("grpc.keepalive_time_ms", KEEPALIVE_SECONDS * 1000),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT * 1000),
        ("grpc.keepalive_permit_without_calls", 0),
        # a restarted server is found again within seconds (gRPC's default waits up to 2 min)
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2000),
    ]
    credentials = channel_credentials(server.tls)
    if credentials is None:
        return aio.insecure_channel(address, options=options, interceptors=chain)
    return aio.secure_channel(address, credentials, options=options, interceptors=chain)


def _traced() -> list[Interceptor]:
    """The interceptors that send the current span as ``traceparent`` metadata, when tracing
    is on (only then is OpenTelemetry loaded)."""
    from nestr.observability.tracing import enabled

    if not enabled():
        return []
    from nestr.watchers.tracing_grpc import client_interceptors

    return list(client_interceptors())


def channel_credentials(tls: TlsSettings) -> grpc.ChannelCredentials | None:
    """TLS credentials from ``server.tls.ca``/``client_cert``/``client_key`` (None: plaintext).

    Without ``ca`` the system's trusted CAs verify the server. Raises :class:`ConfigError`
    naming the setting when a file cannot be read or a certificate comes without its key.
    """
    if tls.ca is None and tls.client_cert is None and tls.client_key is None:
        return None
    if (tls.client_cert is None) != (tls.client_key is None):
        missing = "client_key" if tls.client_key is None else "client_cert"
        raise ConfigError(
            f"server.tls.{missing} is not set",
            field=f"server.tls.{missing}",
            hint="mTLS needs both server.tls.client_cert and server.tls.client_key",
        )
    return grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca, "ca"),
        private_key=_read(tls.client_key, "client_key"),
        certificate_chain=_read(tls.client_cert, "client_cert"),
    )


def _read(path: Path | None, name: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        shown = "" if name == "client_key" else f" {path}"  # a key's path is not shown
        raise ConfigError(
            f"the file{shown} cannot be read: {exc.strerror}",
            field=f"server.tls.{name}",
            hint=TLS_HINT,
        ) from None


def _with(details: aio.ClientCallDetails, extra: tuple[tuple[str, str], ...]) -> Any:
    metadata = aio.Metadata(*(tuple(details.metadata or ()) + extra))
    return aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


class _UnaryMetadata(aio.UnaryUnaryClientInterceptor):
    """Adds fixed metadata (the bearer token) to every unary call."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_with(client_call_details, self._metadata), request)


class _StreamMetadata(aio.UnaryStreamClientInterceptor):
    """Adds fixed metadata (the bearer token) to every server-streaming call."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_with(client_call_details, self._metadata), request)
