"""TLS and mTLS for the gRPC server: ``server.tls.cert``/``key`` and ``server.tls.client_ca``.

The files are read once, when the server starts, so that a missing or unreadable one is a usage
error (exit 2) naming the setting and where it was set, not a handshake failure later. The
private key's path and content never appear in a message: errors about it name
``server.tls.key`` and its origin only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from nestr.errors import ConfigError, SourceLocation

if TYPE_CHECKING:
    from nestr.config.layers import Origin
    from nestr.config.settings import TlsSettings

PEM_MARK = b"-----BEGIN "
NAMES = ("cert", "key", "client_ca")  # in the order a missing one is reported


@dataclass(frozen=True)
class ServerTls:
    """Credentials to listen with; ``mutual`` when clients must present a certificate signed
    by ``server.tls.client_ca`` (which authenticates them as a token does)."""

    credentials: grpc.ServerCredentials = field(repr=False)
    mutual: bool


def server_tls(tls: TlsSettings, origins: Mapping[str, Origin] | None = None) -> ServerTls | None:
    """The credentials of ``tls`` (None: plaintext), from PEM files read now.

    Raises :class:`ConfigError` (exit 2) naming the setting and where it was set (``origins``:
    dotted key → origin, as ``LoadedConfig.origins``) when a file is missing, unreadable or not
    PEM, or when the settings do not make a whole (a key without a certificate, a client CA
    without both).
    """
    given = {name: path for name in NAMES if (path := getattr(tls, name)) is not None}
    if not given:
        return None
    where = origins or {}
    if tls.cert is None or tls.key is None:
        missing = "cert" if tls.cert is None else "key"
        raise ConfigError(
            f"server.tls.{next(iter(given))} is set but server.tls.{missing} is not",
            location=_location(where, f"server.tls.{next(iter(given))}"),
            field=f"server.tls.{missing}",
            hint="TLS needs both server.tls.cert and server.tls.key (PEM files)",
        )
    chain = _read_pem(tls.cert, "server.tls.cert", where, show_path=True)
    key = _read_pem(tls.key, "server.tls.key", where, show_path=False)
    if tls.client_ca is None:
        return ServerTls(grpc.ssl_server_credentials([(key, chain)]), mutual=False)
    roots = _read_pem(tls.client_ca, "server.tls.client_ca", where, show_path=True)
    credentials = grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=roots, require_client_auth=True
    )
    return ServerTls(credentials, mutual=True)


def _location(origins: Mapping[str, Origin], key: str) -> SourceLocation | None:
    origin = origins.get(key)
    return None if origin is None else origin.location


def _read_pem(path: Path, key: str, origins: Mapping[str, Origin], *, show_path: bool) -> bytes:
    """The bytes of a PEM file; a ConfigError naming ``key`` (and the path only if it may be
    shown) when it cannot be read or holds no PEM block."""
    what = f"the file {str(path)!r}" if show_path else "the file"
    hint = f"set {key} to a readable PEM file (a relative path is relative to its config file)"
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = "does not exist" if not path.exists() else exc.strerror or "cannot be read"
        raise ConfigError(
            f"{what} cannot be read: {reason}",
            location=_location(origins, key),
            field=key,
            hint=hint,
        ) from None
    if PEM_MARK not in data:
        raise ConfigError(
            f"{what} holds no PEM block ('-----BEGIN ...')",
            location=_location(origins, key),
            field=key,
            hint=hint,
        )
    return data
