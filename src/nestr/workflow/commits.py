"""Group commit: the records of step instances that end in the same turn of the event loop share
one transaction.

Each record stays whole — a step's end, its outputs and its event are never split across
transactions — only several records ride in one commit (ten steps of a layer that finish
together cost one commit, not ten). A step's task goes on only once its record is committed, so
nothing downstream starts before a need's end is durable, and events are published after the
commit, in commit order.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence

from nestr.events.envelope import Event
from nestr.store.db import Database

# One record: its statements on the caller's connection, returning the events it appended.
Record = Callable[[sqlite3.Connection], Sequence[Event]]


class GroupCommit:
    """Queues records and commits everything queued in one transaction on the next loop turn."""

    def __init__(self, db: Database, publish: Callable[[Event], object]) -> None:
        self._db = db
        self._publish = publish
        self._queue: list[tuple[Record, asyncio.Future[None]]] = []

    def now(self, record: Record) -> None:
        """Commit what is queued, then ``record`` in a transaction of its own, without awaiting
        (for a record written while its task is being cancelled)."""
        self._flush()
        self._commit([record])

    async def write(self, record: Record, *, finishes: bool) -> None:
        """Commit ``record`` with the others of this loop turn; return once it is committed.

        A cancel arriving meanwhile never abandons the record: it is committed all the same.
        With ``finishes`` (the record ends the step) the cancel is absorbed, since nothing is
        left to cancel and the caller must report what was recorded; otherwise it is raised
        once the record is in.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush)
        self._queue.append((record, future))
        cancelled = False
        while not future.done():
            try:
                await asyncio.shield(future)
            except asyncio.CancelledError:
                cancelled = True
        future.result()  # a record that failed raises here, as a direct write would
        if cancelled and not finishes:
            raise asyncio.CancelledError

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        if len(batch) > 1:
            try:
                self._commit([record for record, _ in batch], [f for _, f in batch])
                return
            except Exception:  # noqa: S110 - one bad record must not sink the others
                pass
        for record, future in batch:  # alone (or again, one by one, after a failed batch)
            try:
                self._commit([record], [future])
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)

    def _commit(
        self, records: Sequence[Record], futures: Sequence[asyncio.Future[None]] = ()
    ) -> None:
        with self._db.transaction() as conn:
            appended = [record(conn) for record in records]
        for events in appended:
            for event in events:
                self._publish(event)
        for future in futures:
            if not future.done():
                future.set_result(None)
