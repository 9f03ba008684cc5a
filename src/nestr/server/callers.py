"""Who makes an RPC: the :class:`~nestr.session.audit.Actor` the audit trail names for it.

With mTLS the client certificate's subject (``cert:CN=ci,O=example``) names the caller: the TLS
layer verified it against ``server.tls.client_ca``. Else, when the server has a token, the
caller is whoever holds it: ``token:`` and the first 12 hex digits of the token's SHA-256 —
never the token — so that a rotated token shows in the trail as another identity. Else
(loopback without a token) the caller is ``anonymous``. The peer address (``ipv4:127.0.0.1:
52144``) goes with it. :class:`~nestr.server.calls.CallInterceptor` sets it for each call and
:func:`~nestr.server.acting.acting_session` hands it to the session the call acts with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from nestr.session.audit import Actor

FACE = "grpc"
TOKEN_DIGITS = 12
_current: ContextVar[Actor | None] = ContextVar("nestr_caller", default=None)


def caller_of(context: Any, *, token: str | None) -> Actor:
    """The caller of the call ``context`` serves; ``token``: the server's, if it has one (a
    call that reached a handler presented it)."""
    peer = _text(context.peer())
    subject = _subject(context.auth_context())
    if subject:
        return Actor(f"cert:{subject}", FACE, peer)
    if token is not None:
        return Actor(f"token:{token_identity(token)}", FACE, peer)
    return Actor("anonymous", FACE, peer)


def token_identity(token: str) -> str:
    """What the trail shows for ``token``: a prefix of its SHA-256, not the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:TOKEN_DIGITS]


def _subject(auth: dict[str, list[bytes]]) -> str | None:
    """The verified client certificate's subject (its common name with older gRPC)."""
    for key in ("x509_subject", "x509_common_name"):
        values = auth.get(key)
        if values:
            return _text(values[0])
    return None


def _text(value: str | bytes | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def current_caller() -> Actor | None:
    """The caller of the RPC running in this context (None: not in an RPC)."""
    return _current.get()


@contextmanager
def calling(actor: Actor) -> Iterator[Actor]:
    """Run the body as a call of ``actor``."""
    reset = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(reset)
