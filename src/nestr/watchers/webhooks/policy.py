"""What an endpoint's answer means for a delivery, and how long to wait before the next try.

Pure: no clock, store or network, so the rules are tested with plain values.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["delivered", "retry", "dead", "disable"]


@dataclass(frozen=True, slots=True)
class Answer:
    """How one try ended: the HTTP status, or None and what went wrong before one came."""

    status: int | None
    error: str | None = None

    def describe(self) -> str:
        """A short text for the outbox and events ("HTTP 500", "timed out")."""
        if self.status is not None:
            return f"HTTP {self.status}"
        return self.error or "no answer"


def verdict(answer: Answer, attempt: int, max_attempts: int) -> Verdict:
    """2xx delivers; 410 Gone disables the endpoint (Standard Webhooks: the receiver asks for
    no more); anything else (other codes, timeouts, refused connections) is retried until
    ``max_attempts`` tries were made, then the delivery is dead."""
    if answer.status is not None and 200 <= answer.status < 300:
        return "delivered"
    if answer.status == 410:
        return "disable"
    return "retry" if attempt < max_attempts else "dead"


def backoff(attempt: int, *, initial: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after failed try number ``attempt``: exponential from ``initial``,
    at most ``cap``, with "equal jitter" (a uniform draw in the upper half) so endpoints that
    failed together do not retry in step."""
    delay = min(cap, initial * 2.0 ** min(attempt - 1, 62))
    return delay / 2 + rng.uniform(0, delay / 2)
