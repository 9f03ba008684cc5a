"""Group commit: the records of step instances that end in the same turn of the event loop share
one transaction.

Each record stays whole — a step's end, its outputs and its event are never split across
transactions — only several records ride in one commit (ten steps of a layer that finish
together cost one commit, not ten). A step goes on only once its record is committed (its task
awaits :meth:`GroupCommit.write`, or the scheduler waits for the callback it gave
:meth:`GroupCommit.queue`), so nothing downstream starts before a need's end is durable, and
events are published after the commit, in commit order.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator, Sequence

from nestr.events.envelope import Event
from nestr.store.attempts import WholeAttempt, write_attempts
from nestr.store.db import Database

# One record: its statements on the caller's connection, returning the events it appended.
Record = Callable[[sqlite3.Connection], Sequence[Event]]
# Told how a queued record ended: None once committed, or the error that kept it out.
Committed = Callable[[BaseException | None], None]


class GroupCommit:
    """Queues records and commits everything queued in one transaction on the next loop turn."""

    def __init__(self, db: Database, publish: Callable[[Event], object]) -> None:
        self._db = db
        self._publish = publish
        self._queue: list[tuple[Record, Committed]] = []

    def now(self, record: Record) -> None:
        """Commit what is queued, then ``record`` in a transaction of its own, without awaiting
        (for a record written while its task is being cancelled)."""
        self._flush()
        self._commit([record])

    def queue(self, record: Record, committed: Committed) -> None:
        """Commit ``record`` with the others of this loop turn; ``committed`` is called after
        the commit (and after its events are published), or with the error if it failed."""
        if not self._queue:
            asyncio.get_running_loop().call_soon(self._flush)
        self._queue.append((record, committed))

    async def write(self, record: Record, *, finishes: bool) -> None:
        """Commit ``record`` with the others of this loop turn; return once it is committed.

        A cancel arriving meanwhile never abandons the record: it is committed all the same.
        With ``finishes`` (the record ends the step) the cancel is absorbed, since nothing is
        left to cancel and the caller must report what was recorded; otherwise it is raised
        once the record is in.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue(record, lambda error: _settle(future, error))
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
                self._commit([record for record, _ in batch])
            except Exception:  # noqa: S110 - one bad record must not sink the others
                pass
            else:
                for _, committed in batch:
                    committed(None)
                return
        for record, committed in batch:  # alone (or again, one by one, after a failed batch)
            try:
                self._commit([record])
            except Exception as exc:
                committed(exc)
            else:
                committed(None)

    def _commit(self, records: Sequence[Record]) -> None:
        with self._db.transaction() as conn:
            appended = [write(conn) for write in _together(records)]
        for events in appended:
            for event in events:
                self._publish(event)


def _together(records: Sequence[Record]) -> Iterator[Record]:
    """``records`` in order, each run of whole tries written as one (a few statements for a
    whole layer of instant steps instead of a few per step)."""
    tries: list[WholeAttempt] = []
    for record in records:
        if isinstance(record, WholeAttempt):
            tries.append(record)
            continue
        if tries:
            yield _tries(tries)
            tries = []
        yield record
    if tries:
        yield _tries(tries)


def _tries(tries: list[WholeAttempt]) -> Record:
    return lambda conn: write_attempts(conn, tries)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
