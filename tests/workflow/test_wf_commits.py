"""Group commit: records of one loop turn share a transaction, stay whole, and are never lost."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from nestr.events import Event
from nestr.store import Database, RunRecord, RunStore, open_database
from nestr.store.attempts import AttemptEnd, AttemptFinish, AttemptStart
from nestr.store.eventrows import insert_event
from nestr.store.runs import NewStep
from nestr.workflow.commits import GroupCommit, Record


def _event_record(name: str) -> Record:
    return lambda conn: [insert_event(conn, Event(f"x.{name}"))]


def _bad_record(conn: sqlite3.Connection) -> list[Event]:
    insert_event(conn, Event("x.half"))
    conn.execute("INSERT INTO runs (id) VALUES (NULL)")  # violates NOT NULL
    return []


def _commits(db: Database) -> list[str]:
    seen: list[str] = []
    db._conn.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    return seen


def _types(db: Database) -> list[str]:
    return [r[0] for r in db.query("SELECT type FROM events ORDER BY seq")]


def test_records_of_one_loop_turn_share_one_commit_and_publish_in_order(tmp_path: Path) -> None:
    """Ten records queued in the same turn are one COMMIT; each waiter resumes after it, and
    the events are published in seq order."""
    published: list[Event] = []
    with open_database(tmp_path) as db:
        commits = _commits(db)
        group = GroupCommit(db, published.append)

        async def main() -> None:
            await asyncio.gather(
                *(group.write(_event_record(str(i)), finishes=True) for i in range(10))
            )

        asyncio.run(main())
        assert commits == ["COMMIT"]
        assert _types(db) == [f"x.{i}" for i in range(10)]
    assert [e.seq for e in published] == list(range(1, 11))


def test_a_failing_record_does_not_sink_the_others(tmp_path: Path) -> None:
    """A record that fails raises for its own writer only, leaves nothing half-written, and
    the records queued with it are committed."""
    with open_database(tmp_path) as db:
        group = GroupCommit(db, lambda event: None)

        async def main() -> list[BaseException | None]:
            return await asyncio.gather(
                group.write(_event_record("a"), finishes=True),
                group.write(_bad_record, finishes=True),
                group.write(_event_record("b"), finishes=True),
                return_exceptions=True,
            )

        results = asyncio.run(main())
        assert results[0] is None
        assert results[2] is None
        assert isinstance(results[1], sqlite3.IntegrityError)
        assert _types(db) == ["x.a", "x.b"]


@pytest.mark.parametrize("finishes", [True, False])
def test_a_cancel_never_abandons_a_queued_record(tmp_path: Path, finishes: bool) -> None:
    """A writer cancelled while its record waits still gets it committed; a finishing record
    absorbs the cancel (the step's end is what was recorded), any other re-raises it after."""
    with open_database(tmp_path) as db:
        group = GroupCommit(db, lambda event: None)

        async def main() -> bool:
            task = asyncio.create_task(group.write(_event_record("kept"), finishes=finishes))
            await asyncio.sleep(0)  # the write is queued and waiting
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                return True
            return False

        raised = asyncio.run(main())
        assert raised is not finishes
        assert _types(db) == ["x.kept"]


def test_a_record_written_now_commits_what_was_queued_first(tmp_path: Path) -> None:
    """``now`` commits at once, without awaiting, after the records already queued."""
    with open_database(tmp_path) as db:
        group = GroupCommit(db, lambda event: None)

        async def main() -> None:
            queued = asyncio.create_task(group.write(_event_record("queued"), finishes=True))
            await asyncio.sleep(0)
            group.now(_event_record("now"))
            assert _types(db) == ["x.queued", "x.now"]
            await queued

        asyncio.run(main())


def test_queued_records_are_told_after_their_commit_or_of_their_error(tmp_path: Path) -> None:
    """``queue`` calls back once the record is committed (its events already published), and
    with the error for a record that could not be written, leaving the others committed."""
    published: list[str] = []
    told: list[tuple[str, str | None]] = []
    with open_database(tmp_path) as db:
        group = GroupCommit(db, lambda event: published.append(event.type))

        def tell(name: str) -> Callable[[BaseException | None], None]:
            def committed(error: BaseException | None) -> None:
                told.append((name, type(error).__name__ if error else None))
                assert name == "bad" or f"x.{name}" in published

            return committed

        async def main() -> None:
            group.queue(_event_record("a"), tell("a"))
            group.queue(_bad_record, tell("bad"))
            group.queue(_event_record("b"), tell("b"))
            assert told == []  # nothing is written before the loop turns
            await asyncio.sleep(0)

        asyncio.run(main())
        assert _types(db) == ["x.a", "x.b"]
    assert told == [("a", None), ("bad", "IntegrityError"), ("b", None)]


def test_starts_and_ends_of_a_turn_are_written_together_in_order(tmp_path: Path) -> None:
    """Tries' starts and ends queued in one turn, mixed with other records, are one COMMIT whose
    events keep the order the records were queued in; a try whose start and end are both
    queued is written whole (a succeeded attempt row from one statement)."""
    published: list[str] = []
    with open_database(tmp_path) as db:
        run = RunRecord("abc123", "wf", "running", {}, {}, {}, created=1.0)
        RunStore(db).create_run(run, [NewStep(k, k, None) for k in "abcd"], Event("x.run"))
        commits = _commits(db)
        group = GroupCommit(db, lambda event: published.append(event.type))
        done = AttemptEnd("succeeded", "succeeded", 0, None, {})
        records: list[Record] = [
            AttemptStart("abc123", "a", 1, 1.0, Event("x.a.started")),
            AttemptStart("abc123", "b", 1, 1.0, Event("x.b.started")),
            _event_record("between"),
            AttemptFinish("abc123", "c", 1, done, 2.0, Event("x.c.finished")),
            AttemptFinish("abc123", "d", 1, done, 2.0, Event("x.d.finished")),
            AttemptStart("abc123", "d", 2, 3.0, Event("x.d.s")),
            AttemptFinish("abc123", "d", 2, done, 4.0, Event("x.d.e")),
        ]

        async def main() -> None:
            await asyncio.gather(*(group.write(r, finishes=True) for r in records))

        asyncio.run(main())
        assert commits == ["COMMIT"]
        order = ["x.a.started", "x.b.started", "x.between", "x.c.finished", "x.d.finished"]
        assert published == [*order, "x.d.s", "x.d.e"]
        assert _types(db) == ["x.run", *published]
        attempts = {
            (a.key, a.attempt): (a.status, a.started) for a in RunStore(db).attempts("abc123")
        }
        assert attempts[("d", 2)] == ("succeeded", 3.0)
