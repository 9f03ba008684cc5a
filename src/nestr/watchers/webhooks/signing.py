"""Standard Webhooks signatures (https://www.standardwebhooks.com/, "Signature scheme").

A delivery carries ``webhook-id`` (the same on every retry, so a receiver can drop
duplicates), ``webhook-timestamp`` (Unix seconds of this try) and ``webhook-signature``: one
``v1,<base64 HMAC-SHA256>`` per secret, space-separated, of ``id.timestamp.body`` keyed with the
base64-decoded part of a ``whsec_`` secret. Several secrets sign at once while one is rotated,
so a receiver that knows either verifies. Written out with ``hmac`` (a few lines, no runtime
dependency); the tests check it against the ``standardwebhooks`` reference library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, no secret


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the config validated it is base64)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,`` signature of ``body`` sent as message ``msg_id`` at ``timestamp``."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_id(endpoint: str, event_id: str) -> str:
    """The stable ``webhook-id`` of one event sent to one endpoint: every retry and a manual
    redelivery carry the same one, and two endpoints never share one."""
    digest = hashlib.sha256(f"{endpoint}\0{event_id}".encode()).hexdigest()
    return "msg_" + digest[:32]


def signed_headers(
    secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers of one try."""
    signatures = " ".join(signature(secret_key(s), msg_id, timestamp, body) for s in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
