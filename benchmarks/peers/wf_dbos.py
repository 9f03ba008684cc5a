"""DBOS driver: the DAG as one ``@DBOS.workflow`` whose steps are ``@DBOS.step`` coroutines.

DBOS keeps its system database in SQLite (``workdir/dbos.sqlite``). A workflow's steps must start
in a deterministic order for recovery, so the workflow runs the DAG layer by layer with
``asyncio.gather`` (bounded by the same concurrency); with the benchmark's barrier-layered DAG
that is exactly the schedule of an engine that starts each step as soon as it is ready.
"""

from __future__ import annotations

import asyncio

import wf_common
from dbos import DBOS
from wf_common import Spec


@DBOS.step()
async def noop_step(step: str) -> dict[str, str]:
    return {"step": step}


@DBOS.step()
async def true_step(step: str) -> dict[str, str]:
    await wf_common.spawn_true()
    return {"step": step}


@DBOS.workflow()
async def dag_workflow(steps: int, width: int, concurrency: int, kind: str) -> int:
    body = true_step if kind == "true" else noop_step
    limit = asyncio.Semaphore(concurrency)

    async def one(step: str) -> dict[str, str]:
        async with limit:
            return await body(step)

    done = 0
    for layer in wf_common.layers(steps, width):
        done += len(await asyncio.gather(*(one(step) for step in layer)))
    return done


async def main(spec: Spec) -> float:
    async def one_run(case: Spec) -> None:
        done = await dag_workflow(case.steps, case.width, case.concurrency, case.kind)
        if done != case.steps:
            raise RuntimeError(f"DBOS ran {done} of {case.steps} steps")

    await one_run(spec.warmup())
    return await wf_common.timed_await(spec, lambda: one_run(spec))


if __name__ == "__main__":
    SPEC = wf_common.parse_spec()
    DBOS(
        config={
            "name": "nestr-bench",
            "system_database_url": f"sqlite:///{SPEC.workdir / 'dbos.sqlite'}",
            "run_admin_server": False,
            "log_level": "WARNING",
        }
    )
    DBOS.launch()
    try:
        SECONDS = asyncio.run(main(SPEC))
    finally:
        DBOS.destroy()
    wf_common.report(SPEC, SECONDS)
