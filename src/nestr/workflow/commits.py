"""Group commit: the records of step instances that end in the same turn of the event loop share
one transaction.

Each record stays whole — a step's end, its outputs and its event are never split across
transactions — only several records ride in one commit (ten steps of a layer that finish
together cost one commit, not ten). A step's end reaches the scheduler only once its record is
committed (the callback given to :meth:`GroupCommit.queue`; a try that is retried awaits
:meth:`GroupCommit.write`), so nothing downstream starts before a need's end is durable, and
events are published after the commit, in commit order.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from nestr.events.envelope import Event
from nestr.store.attempts import (
    AttemptFinish,
    AttemptStart,
    WholeAttempt,
    write_attempts,
    write_finishes,
    write_starts,
)
from nestr.store.db import Database
from nestr.store.groups import GroupStarted, write_groups

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

    def flush(self) -> None:
        """Commit what is queued now, without waiting for the next turn of the loop (a run
        that stops keeps every end that was queued before it stopped)."""
        self._flush()

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
        loop = asyncio.get_running_loop()
        outcome: list[BaseException | None] = []  # the commit's error (None), once it is over
        waiter: asyncio.Future[None] = loop.create_future()

        def committed(error: BaseException | None) -> None:
            outcome.append(error)
            if not waiter.done():
                waiter.set_result(None)

        self.queue(record, committed)
        cancelled = False
        while not outcome:
            # The waiter itself, not a shield of it (a shield costs a loop turn per write): a
            # cancel that takes it away is answered with a new one.
            try:
                await waiter
            except asyncio.CancelledError:
                cancelled = True
                waiter = loop.create_future()
        if outcome[0] is not None:
            raise outcome[0]  # a record that failed raises here, as a direct write would
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


# Records written several at a time: consecutive records of one of these types go in one call.
_BATCHED: dict[type[Any], Callable[[sqlite3.Connection, Any], Sequence[Event]]] = {
    AttemptStart: write_starts,
    AttemptFinish: write_finishes,
    WholeAttempt: write_attempts,
    GroupStarted: write_groups,
}


def _together(records: Sequence[Record]) -> Iterator[Record]:
    """``records`` in order, each run of records of one batched type written as one (a few
    statements for a whole layer of steps instead of a few per step)."""
    batch: list[Record] = []
    for record in _whole(records):
        if batch and type(record) is not type(batch[0]):
            yield _batch(batch)
            batch = []
        if type(record) in _BATCHED:
            batch.append(record)
        else:
            yield record
    if batch:
        yield _batch(batch)


def _whole(records: Sequence[Record]) -> list[Record]:
    """``records``, with a try's start and its end, when both are here, as one
    :class:`WholeAttempt` in the start's place (a ``noop`` starts and ends in one turn: its
    try is then written with two statements for the whole layer, not four)."""
    ends = {(r.run_id, r.key, r.attempt): r for r in records if isinstance(r, AttemptFinish)}
    if not ends:
        return list(records)
    out: list[Record] = []
    joined: set[tuple[str, str, int]] = set()
    for record in records:
        if isinstance(record, AttemptStart):
            ident = (record.run_id, record.key, record.attempt)
            if ident in ends:
                out.append(WholeAttempt(record, ends[ident]))
                joined.add(ident)
                continue
        if isinstance(record, AttemptFinish) and (
            (record.run_id, record.key, record.attempt) in joined
        ):
            continue
        out.append(record)
    return out


def _batch(records: list[Record]) -> Record:
    write = _BATCHED[type(records[0])]
    return lambda conn: write(conn, records)
