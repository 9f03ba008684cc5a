"""Knobs of the local executor; tests inject a clock, a sleep and a seeded random source."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nestr.workflow.capture import DEFAULT_CAP
from nestr.workflow.liveness import HEARTBEAT_EVERY
from nestr.workflow.process import DEFAULT_GRACE


@dataclass(frozen=True)
class ExecutorOptions:
    """How the local executor runs: limits, grace periods, polling, time and randomness."""

    concurrency: int = 8
    kill_grace: float = DEFAULT_GRACE  # seconds between SIGTERM and SIGKILL
    log_cap: int = DEFAULT_CAP  # characters of output kept per stream and attempt
    poll_interval: float = 0.2  # how often a cancel request from another process is checked
    heartbeat_every: float = HEARTBEAT_EVERY  # seconds between the owner's heartbeats
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
