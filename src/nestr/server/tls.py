"""TLS and mTLS for the gRPC server: ``server.tls.cert``/``key`` and ``server.tls.client_ca``.

The files are read and parsed once, when the server starts, so that a missing, unreadable or
malformed one, or a key that does not match its certificate, is a usage error (exit 2) naming
the setting and where it was set; gRPC itself would only report that it cannot listen. The
private key's path and content never appear in a message: errors about it name
``server.tls.key`` and its origin only.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from nestr.errors import ConfigError, SourceLocation

if TYPE_CHECKING:
    from nestr.config.layers import Origin
    from nestr.config.settings import TlsSettings

NAMES = ("cert", "key", "client_ca")  # in the order a missing one is reported
HINT = "set {} to a readable PEM file (a relative path is relative to its config file)"


@dataclass(frozen=True)
class ServerTls:
    """Credentials to listen with; ``mutual`` when clients must present a certificate signed
    by ``server.tls.client_ca`` (which authenticates them as a token does)."""

    credentials: grpc.ServerCredentials = field(repr=False)
    mutual: bool


def server_tls(tls: TlsSettings, origins: Mapping[str, Origin] | None = None) -> ServerTls | None:
    """The credentials of ``tls`` (None: plaintext), from PEM files read now.

    Raises :class:`ConfigError` (exit 2) naming the setting and where it was set (``origins``:
    dotted key → origin, as ``LoadedConfig.origins``) when a file is missing or unreadable, holds
    no valid PEM certificate (or key), when the key is encrypted or does not match the
    certificate, or when the settings do not make a whole (a key without a certificate, a
    client CA without both).
    """
    given = {name: path for name in NAMES if (path := getattr(tls, name)) is not None}
    if not given:
        return None
    where = origins or {}
    if tls.cert is None or tls.key is None:
        missing, first = "cert" if tls.cert is None else "key", f"server.tls.{next(iter(given))}"
        origin = where.get(first)
        raise ConfigError(
            f"{first} is set but server.tls.{missing} is not",
            location=None if origin is None else origin.location,
            field=f"server.tls.{missing}",
            hint="TLS needs both server.tls.cert and server.tls.key (PEM files)",
        )
    chain = _certificates(tls.cert, "server.tls.cert", where)
    key = _private_key(tls.key, tls.cert, where)
    if tls.client_ca is None:
        return ServerTls(grpc.ssl_server_credentials([(key, chain)]), mutual=False)
    roots = _certificates(tls.client_ca, "server.tls.client_ca", where)
    credentials = grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=roots, require_client_auth=True
    )
    return ServerTls(credentials, mutual=True)


def _certificates(path: Path, key: str, origins: Mapping[str, Origin]) -> bytes:
    """The bytes of a file of PEM certificates, each parsed (OpenSSL, through ``ssl``)."""
    data = _read(path, key, origins, shown=f"the file {str(path)!r}")
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=data.decode("ascii", "replace"))
    except ssl.SSLError:
        message = f"the file {str(path)!r} holds no valid PEM certificate"
        raise _error(message, key, origins) from None
    return data


def _private_key(path: Path, cert: Path, origins: Mapping[str, Origin]) -> bytes:
    """The bytes of an unencrypted PEM private key that matches the certificate ``cert``."""
    key = "server.tls.key"
    data = _read(path, key, origins, shown="the file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, path, password=_no_password)
    except _EncryptedKeyError:
        message = "the key is encrypted; gRPC needs an unencrypted PEM key"
        raise _error(message, key, origins) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise _error("the key does not match server.tls.cert", key, origins) from None
        raise _error("the file holds no valid PEM private key", key, origins) from None
    return data


class _EncryptedKeyError(Exception):
    """Raised instead of OpenSSL's interactive passphrase prompt."""


def _no_password() -> str:
    raise _EncryptedKeyError


def _read(path: Path, key: str, origins: Mapping[str, Origin], *, shown: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        reason = "does not exist" if not path.exists() else exc.strerror or "cannot be read"
        raise _error(f"{shown} cannot be read: {reason}", key, origins) from None


def _error(message: str, key: str, origins: Mapping[str, Origin]) -> ConfigError:
    origin = origins.get(key)
    location: SourceLocation | None = None if origin is None else origin.location
    return ConfigError(message, location=location, field=key, hint=HINT.format(key))
