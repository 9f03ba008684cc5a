"""The SQLite store: atomic creation, pragmas, migrations, one transaction per state change."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from nestr.errors import UsageError
from nestr.events import Event
from nestr.store import Database, RunRecord, RunStore, open_database
from nestr.store.attempts import (
    AttemptFinish,
    AttemptStart,
    WholeAttempt,
    write_attempts,
    write_finishes,
    write_starts,
)
from nestr.store.runs import AttemptEnd, NewStep, RunBusy
from nestr.store.schema import MIGRATIONS
from nestr.workflow.liveness import owner_alive, shown_status


def _record(run_id: str = "abc123", pid: int | None = None) -> RunRecord:
    return RunRecord(
        id=run_id,
        workflow="wf",
        status="running",
        definition={"name": "wf", "steps": []},
        inputs={"v": "1"},
        context={"root": "/tmp"},
        created=time.time(),
        owner_pid=pid or os.getpid(),
        owner_host=socket.gethostname(),
    )


def test_database_is_created_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    """A new store is at <state_dir>/nestr.db, in WAL mode, at the latest user_version."""
    with open_database(tmp_path / "state") as db:
        assert db.query("PRAGMA journal_mode")[0][0] == "wal"
        assert db.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
        assert db.query("PRAGMA synchronous")[0][0] == 1  # NORMAL
    assert (tmp_path / "state" / "nestr.db").is_file()
    assert not list((tmp_path / "state").glob(".nestr-db.*"))


def test_step_finish_outputs_logs_and_event_commit_together(tmp_path: Path) -> None:
    """Finishing an attempt writes attempt, step, outputs, logs and the event atomically: a
    failure inside the transaction leaves none of them."""
    with open_database(tmp_path) as db:
        store = RunStore(db)
        store.create_run(_record(), [NewStep("a", "a", None)], Event("nestr.workflow.run.started"))
        store.start_attempt("abc123", "a", 1, time.time(), Event("nestr.workflow.step.started"))
        end = AttemptEnd("succeeded", "succeeded", 0, None, {"x": "1"}, [("stdout", "hi\n", False)])
        event = store.finish_attempt(
            "abc123", "a", 1, end, time.time(), Event("nestr.workflow.step.finished")
        )
        assert event.seq == 3
        step = store.steps("abc123")[0]
        assert (step.status, step.outputs, step.attempts) == ("succeeded", {"x": "1"}, 1)
        assert store.logs("abc123")[0].text == "hi\n"
        with pytest.raises(sqlite3.IntegrityError):
            _fail_half_way(db)
        assert store.steps("abc123")[0].status == "succeeded"
        assert db.query("SELECT count(*) FROM events")[0][0] == 3


def _fail_half_way(db: Database) -> None:
    with db.transaction() as conn:
        conn.execute("UPDATE steps SET status='failed' WHERE key='a'")
        conn.execute("INSERT INTO runs (id) VALUES (NULL)")  # violates NOT NULL


def test_run_prefixes_resolve_uniquely(tmp_path: Path) -> None:
    """A unique prefix finds its run; an ambiguous or unknown one is a usage error."""
    with open_database(tmp_path) as db:
        store = RunStore(db)
        for run_id in ("aaa111", "aab222"):
            store.create_run(_record(run_id), [], Event("nestr.workflow.run.started"))
        assert store.find_run("aaa").id == "aaa111"
        with pytest.raises(UsageError, match="several runs"):
            store.find_run("aa")
        with pytest.raises(UsageError, match="no run matches"):
            store.find_run("zz")


def test_a_run_whose_owner_died_shows_as_interrupted(tmp_path: Path) -> None:
    """A run left `running` by a dead process on this host is shown as interrupted."""
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    with open_database(tmp_path) as db:
        store = RunStore(db)
        store.create_run(_record("dead01", pid=dead), [], Event("x.started"))
        store.create_run(_record("live01"), [], Event("x.started"))
        assert shown_status(store.run("dead01")) == "interrupted"
        assert shown_status(store.run("live01")) == "running"
        assert store.run("dead01").to_dict()["status"] == "running"  # the record stays plain


def test_cancel_request_is_seen_by_the_heartbeat(tmp_path: Path) -> None:
    """A cancel request written through one connection is returned by the owner's heartbeat."""
    with open_database(tmp_path) as owner, open_database(tmp_path) as other:
        RunStore(owner).create_run(_record(), [], Event("x.started"))
        assert RunStore(owner).beat("abc123", time.time()) is False
        RunStore(other).request_cancel("abc123", time.time())
        assert RunStore(owner).beat("abc123", time.time()) is True


def test_bookkeeping_cost_per_step_is_small(tmp_path: Path) -> None:
    """Recording a step's start and finish costs two commits and stays well under a few ms."""
    with open_database(tmp_path) as db:
        store = RunStore(db)
        steps = [NewStep(f"s{i}", f"s{i}", None) for i in range(300)]
        store.create_run(_record(), steps, Event("x.started"))
        start = time.perf_counter()
        for i in range(300):
            store.start_attempt("abc123", f"s{i}", 1, time.time(), Event("x.step.started"))
            end = AttemptEnd("succeeded", "succeeded", 0, None, {}, ())
            store.finish_attempt("abc123", f"s{i}", 1, end, time.time(), Event("x.step.done"))
        per_step = (time.perf_counter() - start) / 300
    assert per_step < 0.005  # generous bound for a loaded CI box; typical is ~0.1-0.2 ms


def test_whole_tries_written_together_equal_tries_written_one_by_one(tmp_path: Path) -> None:
    """``write_attempts`` of several whole tries leaves the same steps, attempts, logs and
    events (in the same order, gap-free) as each try's start then end written in turn."""
    ends = [
        AttemptEnd("succeeded", "succeeded", 0, None, {"x": "1"}),
        AttemptEnd("failed", "failed", None, "boom", None, [("stdout", "out", False)]),
        AttemptEnd("failed", None, None, "again"),
    ]
    tables = []
    for together in (False, True):
        with open_database(tmp_path / str(together)) as db:
            store = RunStore(db)
            steps = [NewStep(k, k, None) for k in "abc"]
            store.create_run(_record(), steps, Event("nestr.workflow.run.started"))
            tries = [
                WholeAttempt(
                    AttemptStart("abc123", k, 1, 1.0, Event(f"{k}.s")),
                    AttemptFinish("abc123", k, 1, e, 2.0, Event(f"{k}.e")),
                )
                for k, e in zip("abc", ends, strict=True)
            ]
            with db.transaction() as conn:
                if together:
                    events = write_attempts(conn, tries)
                else:
                    events = [e for t in tries for r in (t.start, t.finish) for e in r(conn)]
            assert [(e.seq, e.type) for e in events] == [
                (2, "a.s"), (3, "a.e"), (4, "b.s"), (5, "b.e"), (6, "c.s"), (7, "c.e")
            ]  # fmt: skip
            tables.append(_everything(db, store))
    assert tables[0] == tables[1]
    steps, _, logs, _ = tables[1]
    assert [s.status for s in steps] == ["succeeded", "failed", "running"]
    assert [(log.key, log.text) for log in logs] == [("b", "out")]


def test_starts_and_ends_written_together_equal_them_written_one_by_one(tmp_path: Path) -> None:
    """``write_starts`` then ``write_finishes`` of several tries leave the same steps,
    attempts, logs and events (in the same order, gap-free) as each record written in turn:
    a final end with outputs, a final failure with its log, and a try that will be retried."""
    ends = [
        AttemptEnd("succeeded", "succeeded", 0, None, {"x": "1"}),
        AttemptEnd("failed", "failed", 3, "boom", None, [("stderr", "bad", True)]),
        AttemptEnd("failed", None, 1, "again"),
    ]
    tables = []
    for together in (False, True):
        with open_database(tmp_path / str(together)) as db:
            store = RunStore(db)
            store.create_run(
                _record(), [NewStep(k, k, None) for k in "abc"], Event("nestr.workflow.run.started")
            )
            starts = [AttemptStart("abc123", k, 2, 1.0, Event(f"{k}.s")) for k in "abc"]
            finishes = [
                AttemptFinish("abc123", k, 2, e, 2.0, Event(f"{k}.e"))
                for k, e in zip("abc", ends, strict=True)
            ]
            with db.transaction() as conn:
                if together:
                    events = write_starts(conn, starts) + write_finishes(conn, finishes)
                else:
                    events = [e for r in [*starts, *finishes] for e in r(conn)]
            assert [(e.seq, e.type) for e in events] == [
                (2, "a.s"), (3, "b.s"), (4, "c.s"), (5, "a.e"), (6, "b.e"), (7, "c.e")
            ]  # fmt: skip
            tables.append(_everything(db, store))
    assert tables[0] == tables[1]
    steps, attempts, logs, _ = tables[1]
    assert [(s.status, s.attempts, s.exit_code) for s in steps] == [
        ("succeeded", 2, 0), ("failed", 2, 3), ("running", 2, None)
    ]  # fmt: skip
    assert [(a.status, a.exit_code, a.error) for a in attempts] == [
        ("succeeded", 0, None), ("failed", 3, "boom"), ("failed", 1, "again")
    ]  # fmt: skip
    assert [(log.key, log.stream, log.text, log.truncated) for log in logs] == [
        ("b", "stderr", "bad", True)
    ]


def _everything(db: Database, store: RunStore) -> tuple[object, ...]:
    """Steps, attempts, logs and event types of run ``abc123``, to compare two stores."""
    return (
        store.steps("abc123"),
        store.attempts("abc123"),
        store.logs("abc123"),
        [r[0] for r in db.query("SELECT type FROM events ORDER BY seq")],
    )


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_of_racing_claims_of_a_run_exactly_one_takes_it_over(tmp_path: Path) -> None:
    """Eight threads, each with its own connection, claim one interrupted run at once: one
    gets it; every other is refused with the owner that has it, and nothing else is written."""
    with open_database(tmp_path) as db:
        RunStore(db).create_run(_record(pid=_dead_pid()), [NewStep("a", "a", None)], _event())
        seen = RunStore(db).run("abc123")
    assert shown_status(seen) == "interrupted"
    barrier = threading.Barrier(8)
    outcomes: list[object] = []

    def claim() -> None:
        with Database(tmp_path / "nestr.db") as own:
            barrier.wait()
            try:
                outcomes.append(
                    RunStore(own).claim(seen, os.getpid(), time.time(), _resumed, owner_alive)
                )
            except RunBusy as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    won = [o for o in outcomes if isinstance(o, tuple)]
    refused = [o for o in outcomes if isinstance(o, RunBusy)]
    assert len(won) == 1
    assert len(refused) == 7
    assert won[0][1] == 1  # the first takeover
    host = socket.gethostname()
    for exc in refused:
        assert str(exc) == f"run abc123 is being resumed by pid {os.getpid()} on host {host}"
        assert exc.exit_code == 2
    with open_database(tmp_path) as db:
        assert RunStore(db).run("abc123").resumes == 1
        resumed = db.query("SELECT count(*) FROM events WHERE type='x.resumed'")[0][0]
    assert resumed == 1


def _event() -> Event:
    return Event(type="x.started", data={}, run_id="abc123")


def _resumed(steps: object) -> Event:
    return Event(type="x.resumed", data={}, run_id="abc123")
