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
    client = await connect(settings)
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
                client=client,
                ready=ready,
            )
        )
        started.append(task)
        await ready.wait()

    async def execute(manifest_path: Path, name: str, steps: int, jobs: int) -> None:
        manifest = load_manifest(manifest_path)
        workflow = load_workflow(manifest, name)
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

    try:
        warmup = spec.warmup()
        await execute(write_manifest(warmup), f"bench{warmup.steps}", warmup.steps, 10)
        if "fanout" in spec.extra:
            count = int(spec.extra["fanout"])
            path = fanout_manifest(spec, count, spec.extra.get("sleep", "0.05"))
            return await wf_common.timed_await(spec, lambda: execute(path, "fanout", count, count))
        path = write_manifest(spec)
        name = f"bench{spec.steps}"
        return await wf_common.timed_await(
            spec, lambda: execute(path, name, spec.steps, spec.concurrency)
        )
    finally:
        stop.set()
        await asyncio.gather(*started, return_exceptions=True)
        db.close()


if __name__ == "__main__":
    SPEC = wf_common.parse_spec()
    wf_common.report(SPEC, asyncio.run(main(SPEC)))
