"""nestr on Temporal driver: the nestr DAG workflow, run with ``executor: temporal``.

The same ``nestr.yaml`` as ``wf_nestr.py``; the timed region is ``run_workflow`` with the
``temporal`` executor: submit the run as the ``nestr.run`` workflow, which interprets the plan
with nestr's scheduler and runs each step as one ``nestr.step`` activity, projected into the
store as it goes. The worker (``nestr.temporal.worker.run_worker``, as ``nestr worker`` runs
it) runs in this process, started before the clock, with ``max_concurrent_activities`` = the
benchmark's concurrency, as the plain Temporal driver's does. ``--set address=HOST:PORT``
names the dev server the benchmark started.

``--set workers=N --set fanout=S --set sleep=T``: the scaling case instead: one layer of ``S``
independent ``sleep T`` steps, ``N`` workers of ``--concurrency`` slots each in this process.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import wf_common
from wf_common import Spec
from wf_nestr import write_manifest

if TYPE_CHECKING:
    from nestr.config.settings import Settings
    from nestr.manifest.model import Manifest
    from nestr.workflow.model import Workflow


def fanout_manifest(case: Spec, count: int, pause: str) -> Path:
    lines = ["version: 1", "repos: []", "workflows:", "  fanout:", "    steps:"]
    lines += [f'      - {{id: s{i:04d}, run: "sleep {pause}"}}' for i in range(count)]
    path = case.workdir / "nestr-fanout.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def main(spec: Spec) -> float:
    from nestr.config.settings import Settings, TemporalSettings
    from nestr.manifest.loader import load_manifest
    from nestr.store.db import open_database
    from nestr.temporal.worker import WorkerSpec, connect, run_worker
    from nestr.workflow import run_workflow
    from nestr.workflow.loading import load_workflow

    state = spec.workdir / "state"
    queue = f"bench-{uuid.uuid4().hex}"
    temporal = TemporalSettings(address=spec.extra["address"], task_queue=queue)
    settings: Settings = replace(Settings(), state_dir=state, temporal=temporal)
    db = open_database(state)
    stop = asyncio.Event()
    workers = int(spec.extra.get("workers", "1"))
    started = []
    for number in range(workers):
        ready = asyncio.Event()
        worker = replace(settings, state_dir=spec.workdir / f"worker-{number}")
        task = asyncio.create_task(
            run_worker(
                worker,
                WorkerSpec(task_queue=queue, jobs=spec.concurrency),
                stop=stop,
                client=await connect(settings),  # one client per worker, as on two hosts
                ready=ready,
            )
        )
        started.append(task)
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if task.done():
            stop.set()
            await asyncio.gather(*started, return_exceptions=True)
            task.result()  # the worker could not start: its error

    async def execute(manifest: Manifest, workflow: Workflow, steps: int, jobs: int) -> None:
        result = await run_workflow(
            workflow,
            manifest=manifest,
            state_dir=state,
            jobs=jobs,
            db=db,
            settings=settings,
            executor="temporal",
        )
        if not result.ok or len(result.steps) != steps:
            raise RuntimeError(f"nestr on Temporal run {result.status}: {result.counts()}")

    def loaded(path: Path, name: str) -> tuple[Manifest, Workflow]:
        """Loaded before the clock starts, as ``wf_nestr.py`` does."""
        manifest = load_manifest(path)
        return manifest, load_workflow(manifest, name)

    try:
        warmup = spec.warmup()
        await execute(*loaded(write_manifest(warmup), f"bench{warmup.steps}"), warmup.steps, 10)
        if "fanout" in spec.extra:
            count = int(spec.extra["fanout"])
            path = fanout_manifest(spec, count, spec.extra.get("sleep", "0.05"))
            fan = loaded(path, "fanout")
            return await wf_common.timed_await(spec, lambda: execute(*fan, count, count))
        dag = loaded(write_manifest(spec), f"bench{spec.steps}")
        return await wf_common.timed_await(
            spec, lambda: execute(*dag, spec.steps, spec.concurrency)
        )
    finally:
        stop.set()
        await asyncio.gather(*started, return_exceptions=True)
        db.close()


if __name__ == "__main__":
    SPEC = wf_common.parse_spec()
    wf_common.report(SPEC, asyncio.run(main(SPEC)))
