"""Waits between tries: exponential or fixed backoff, capped, with full jitter.

Full jitter (a uniform wait between 0 and the backoff) spreads retries of many steps that
failed together (AWS Architecture Blog, "Exponential Backoff And Jitter"). The random source
is passed in, so a seeded ``random.Random`` makes the waits reproducible in tests.
"""

from __future__ import annotations

import random

from nestr.workflow.model import RetryPolicy


def backoff(policy: RetryPolicy, failed_attempt: int) -> float:
    """The wait cap after try number ``failed_attempt`` (1-based), before jitter."""
    if policy.backoff == "fixed":
        return min(policy.initial, policy.max)
    return float(min(policy.max, policy.initial * 2 ** (failed_attempt - 1)))


def retry_delay(policy: RetryPolicy, failed_attempt: int, rng: random.Random) -> float:
    """Seconds to wait after try ``failed_attempt`` failed."""
    cap = backoff(policy, failed_attempt)
    return rng.uniform(0, cap) if policy.jitter else cap
