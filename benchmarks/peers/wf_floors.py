"""Floors for the workflow benchmark: what a DAG costs with no engine at all.

``--set engine=memory``  graphlib.TopologicalSorter + asyncio tasks, nothing persisted.
``--set engine=sqlite``  the same, plus the bookkeeping a durable engine cannot avoid: three
                         commits per step (started, output, finished + event) in SQLite with
                         WAL and ``synchronous=NORMAL``.
``--set engine=spawn``   no DAG: the same number of `true` processes through a semaphore of
                         the same concurrency (the floor for ``run: "true"`` steps).
"""

from __future__ import annotations

import asyncio
import graphlib
import json
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable

import wf_common
from wf_common import Spec

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, started REAL, finished REAL);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT, step TEXT, status TEXT, started REAL, finished REAL,
    PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS outputs (run_id TEXT, step TEXT, data TEXT, PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, step TEXT, type TEXT, data TEXT);
"""

EVENT_SQL = "INSERT INTO events (run_id, step, type, data) VALUES (?, ?, 'step.finished', ?)"

StepBody = Callable[[str], Awaitable[dict[str, str]]]


async def noop(step: str) -> dict[str, str]:
    return {"step": step}


async def true(step: str) -> dict[str, str]:
    await wf_common.spawn_true()
    return {"step": step}


async def run_dag(dag: dict[str, list[str]], body: StepBody, concurrency: int) -> None:
    """Start each step as soon as its needs are done, at most ``concurrency`` at once."""
    sorter = graphlib.TopologicalSorter(dag)
    sorter.prepare()
    limit = asyncio.Semaphore(concurrency)

    async def one(step: str) -> str:
        async with limit:
            await body(step)
        return step

    pending: set[asyncio.Task[str]] = set()
    while sorter.is_active():
        pending.update(asyncio.create_task(one(step)) for step in sorter.get_ready())
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            sorter.done(task.result())


class Bookkeeping:
    """The three commits per step of a durable engine, on one SQLite connection."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.run_id = ""

    def start_run(self) -> None:
        self.run_id = uuid.uuid4().hex
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO runs VALUES (?, ?, NULL)", (self.run_id, time.time()))

    def wrap(self, body: StepBody) -> StepBody:
        async def durable(step: str) -> dict[str, str]:
            self._commit(
                "INSERT INTO steps VALUES (?, ?, 'running', ?, NULL)",
                (self.run_id, step, time.time()),
            )
            output = await body(step)
            self._commit(
                "INSERT INTO outputs VALUES (?, ?, ?)", (self.run_id, step, json.dumps(output))
            )
            self._commit(
                "UPDATE steps SET status='done', finished=? WHERE run_id=? AND step=?",
                (time.time(), self.run_id, step),
                (EVENT_SQL, (self.run_id, step, "{}")),
            )
            return output

        return durable

    def _commit(
        self, sql: str, params: tuple[object, ...], *more: tuple[str, tuple[object, ...]]
    ) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(sql, params)
            for extra_sql, extra_params in more:
                self.db.execute(extra_sql, extra_params)


async def spawn_all(count: int, concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with limit:
            await wf_common.spawn_true()

    await asyncio.gather(*(one() for _ in range(count)))


async def main(spec: Spec) -> float:
    engine = spec.extra.get("engine", "memory")
    body: StepBody = true if spec.kind == "true" else noop
    if engine == "spawn":
        await spawn_all(spec.warmup().steps, spec.concurrency)
        return await wf_common.timed_await(spec, lambda: spawn_all(spec.steps, spec.concurrency))
    book = Bookkeeping(str(spec.workdir / "floor.sqlite")) if engine == "sqlite" else None

    async def one_run(case: Spec) -> None:
        if book is not None:
            book.start_run()
        step_body = book.wrap(body) if book is not None else body
        await run_dag(wf_common.layered_dag(case.steps, case.width), step_body, case.concurrency)

    await one_run(spec.warmup())
    return await wf_common.timed_await(spec, lambda: one_run(spec))


if __name__ == "__main__":
    SPEC = wf_common.parse_spec()
    wf_common.report(SPEC, asyncio.run(main(SPEC)))
