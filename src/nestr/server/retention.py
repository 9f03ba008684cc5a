"""Event-log retention as the server sees it: the ``Gap`` notice a stream starts with when its
cursor was pruned, and the task that prunes the log every ``events.retention.interval``.

Pruning runs in a worker thread on a connection of its own: the event loop keeps serving while
the oldest rows are deleted, a chunk per short transaction (``nestr.store.eventprune``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from nestr.observability.logging import get_logger
from nestr.server._proto import events_pb2 as pb

if TYPE_CHECKING:
    from nestr.config.settings import RetentionSettings
    from nestr.session import Session
    from nestr.store.eventprune import Pruned

log = get_logger("nestr.server.retention")


def gap_notice(session: Session, after_seq: int) -> pb.Gap | None:
    """The ``Gap`` for a stream asked to start after ``after_seq``, when the events right
    after it were pruned; None when nothing was (``after_seq`` 0 means "from the oldest
    retained", so it never has a gap)."""
    if after_seq == 0:
        return None
    oldest = session.event_oldest()
    if oldest <= after_seq + 1:
        return None
    return pb.Gap(after_seq=after_seq, oldest_seq=oldest)


class Pruner:
    """Prunes the session's event log at start and then every ``interval`` seconds of the
    retention ``policy()`` in force (a config reload may change it); ``runs`` counts the
    prunes done."""

    def __init__(self, session: Session, policy: Callable[[], RetentionSettings]) -> None:
        self.session = session
        self.policy = policy
        self.runs = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Prune once now (a server that starts serves the retained log), then every
        ``interval`` seconds in the background."""
        await self._prune_logged()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def prune_once(self) -> Pruned | None:
        """One prune with the policy in force (None when it sets no limit)."""
        policy = self.policy()
        if policy.max_age is None and policy.max_events is None:
            return None
        pruned = await asyncio.to_thread(self.session.prune_events, policy)
        self.runs += 1
        if pruned.deleted:
            log.info("events pruned", **pruned.to_dict())
        return pruned

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.policy().interval)
            await self._prune_logged()

    async def _prune_logged(self) -> None:
        try:
            await self.prune_once()
        except Exception as error:  # a failed prune is retried next time; serving goes on
            log.warning("pruning the event log failed", error=str(error))
