"""A failed call to the server as the error the same command raises locally.

The server ends a call with the status code its error maps to, the message the CLI prints and
the hint as trailing metadata ``nestr-hint`` (:mod:`nestr.server.errors`); this module turns
that back into a :class:`~nestr.errors.NestrError` of the class the CLI reports, so
``error: …`` / ``hint: …`` read the same through ``--server``. The exit code is the one the
server's error has (its ``google.rpc.ErrorInfo`` carries it), so a command exits as it does
locally even where two errors share a status code (a workspace holding local work and a run
another process owns are both FAILED_PRECONDITION, exit 1 and 2).
"""

from __future__ import annotations

import re

import grpc
from google.protobuf.message import DecodeError
from grpc import aio

from nestr.errors import (
    EXIT_CONFLICTS,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    InputError,
    Interrupted,
    MultipleInputErrors,
    NestrError,
    NotFound,
    UsageError,
)

HINT_KEY = "nestr-hint"
DETAILS_KEY = "grpc-status-details-bin"  # google.rpc.Status (nestr.server.details)
DOMAIN = "nestr.dev"
EXIT_CODES = {EXIT_FAILED, EXIT_USAGE, EXIT_CONFLICTS, EXIT_INTERRUPTED}
_NESTED_HINT = "\n  hint: "
RESUME_KEY = "nestr-resume-after-seq"
_ESCAPE = re.compile(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


class ServerUnreachable(NestrError):
    """No server answers at the address (exit 1: the work could not be done)."""

    exit_code = EXIT_FAILED


class AccessDenied(InputError):
    """The server refused the token or certificate (exit 2: fix the configuration)."""


class ServerFailed(NestrError):
    """The server failed the call for another reason (its own error, or a bug: its log has it)."""


def unreachable(address: str, detail: str = "") -> ServerUnreachable:
    """The one line for a server that does not answer at ``address``."""
    why = f" ({detail})" if detail else ""
    return ServerUnreachable(
        f"cannot reach the nestr server at {address}{why}",
        hint="start it with `nestr serve`, or check --server / server.address "
        "(and server.tls.* when it speaks TLS)",
    )


def from_rpc_error(error: aio.AioRpcError, address: str) -> NestrError:
    """The error a command reports for a call that ended with ``error``, with the exit code
    the server's error has."""
    translated = _translated(error, address)
    exit_code = _exit_code(error)
    if exit_code is not None and isinstance(translated, NestrError):
        translated.exit_code = exit_code
    return translated


def _translated(error: aio.AioRpcError, address: str) -> NestrError:
    code, message, hint = error.code(), error.details() or "", hint_of(error)
    if code == grpc.StatusCode.UNAVAILABLE:
        return unreachable(address, socket_reason(message))
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return unreachable(address, "no answer in time")
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(message, hint=hint)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return input_error(message, hint)
    if code == grpc.StatusCode.FAILED_PRECONDITION:  # a run another process owns, a refusal
        return UsageError(message, hint=hint)
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return AccessDenied(
            f"the nestr server at {address} refused the call: {message}",
            hint=hint or "set server.token (or server.token_file) to the server's token",
        )
    if code == grpc.StatusCode.CANCELLED:
        return Interrupted(message or "the call was cancelled", hint=hint)
    return ServerFailed(message or f"the server failed the call ({code.name})", hint=hint)


def socket_reason(message: str) -> str:
    """Why a connection failed, from grpc's detail (``failed to connect to all addresses; last
    error: UNKNOWN: ipv4:…: Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:…:
    OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate: OK``):
    the TLS verdict for a failed handshake, else the socket's last words."""
    text = message.removesuffix(": OK")
    if "handshake failed" not in text.lower():
        return text.rsplit(": ", 1)[-1]
    verdict = text.rsplit("OPENSSL_internal:", 1)[1] if "OPENSSL_internal:" in text else ""
    return f"TLS handshake failed: {verdict}" if verdict else "TLS handshake failed"


def input_error(message: str, hint: str | None) -> InputError:
    """The input error of ``message``; several problems found together travel as one message,
    each followed by its ``  hint: …`` line (:class:`~nestr.errors.MultipleInputErrors`), and
    come back as several, so each gets its own ``error:`` line as it does locally."""
    if hint is not None or _NESTED_HINT not in message:
        return InputError(message, hint=hint)
    errors: list[InputError] = []
    for line in message.split("\n"):
        if line.startswith(_NESTED_HINT[1:]) and errors and errors[-1].hint is None:
            errors[-1] = InputError(errors[-1].message, hint=line.removeprefix(_NESTED_HINT[1:]))
        elif errors and line.startswith(" "):  # a message of several lines goes on
            errors[-1] = InputError(f"{errors[-1].message}\n{line}", hint=errors[-1].hint)
        else:
            errors.append(InputError(line))
    return MultipleInputErrors(errors)


def hint_of(error: aio.AioRpcError) -> str | None:
    """The ``nestr-hint`` trailing metadata of ``error``, its escapes undone."""
    value = trailer(error, HINT_KEY)
    if value is None:
        return None
    return _ESCAPE.sub(lambda m: chr(int(m.group(1)[1:], 16)), value)


def _exit_code(error: aio.AioRpcError) -> int | None:
    """The exit code in the call's ``ErrorInfo`` of nestr's domain (None: none is there)."""
    from google.rpc import error_details_pb2, status_pb2

    for name, value in error.trailing_metadata() or ():
        if name != DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            details = status_pb2.Status.FromString(value).details
        except DecodeError:
            return None
        for packed in details:
            info = error_details_pb2.ErrorInfo()
            if packed.Unpack(info) and info.domain == DOMAIN:
                code = info.metadata.get("exit_code", "")
                return int(code) if code.isdigit() and int(code) in EXIT_CODES else None
    return None


def trailer(error: aio.AioRpcError, key: str) -> str | None:
    """The value of trailing metadata ``key`` of ``error`` (None: absent)."""
    for name, value in error.trailing_metadata() or ():
        if name == key:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None
