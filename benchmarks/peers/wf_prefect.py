"""Prefect 3 driver: the DAG as one flow whose tasks are submitted with ``wait_for`` dependencies.

Prefect runs in its ephemeral local mode: no ``PREFECT_API_URL``, so the process starts its own
API server over SQLite under ``PREFECT_HOME`` (the benchmark sets it below benchmarks/.work).
Tasks run on a ``ThreadPoolTaskRunner`` with ``max_workers`` = the benchmark's concurrency.
"""

from __future__ import annotations

from typing import Any

import wf_common
from prefect import flow, task
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner
from wf_common import Spec


@task
def noop_step(step: str) -> dict[str, str]:
    return {"step": step}


@task
def true_step(step: str) -> dict[str, str]:
    wf_common.spawn_true_sync()
    return {"step": step}


def dag_flow(steps: int, width: int, kind: str) -> int:
    body = true_step if kind == "true" else noop_step
    futures: dict[str, Any] = {}
    for step, needs in wf_common.layered_dag(steps, width).items():
        futures[step] = body.with_options(task_run_name=step).submit(
            step, wait_for=[futures[need] for need in needs]
        )
    wait(list(futures.values()))
    return len([future.result() for future in futures.values()])


def main(spec: Spec) -> float:
    runner = flow(
        name="nestr-bench", task_runner=ThreadPoolTaskRunner(max_workers=spec.concurrency)
    )(dag_flow)

    def one_run(case: Spec) -> None:
        done = runner(case.steps, case.width, case.kind)
        if done != case.steps:
            raise RuntimeError(f"Prefect ran {done} of {case.steps} steps")

    one_run(spec.warmup())
    return wf_common.timed(spec, lambda: one_run(spec))


if __name__ == "__main__":
    SPEC = wf_common.parse_spec()
    wf_common.report(SPEC, main(SPEC))
