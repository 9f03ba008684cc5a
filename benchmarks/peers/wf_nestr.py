"""nestr driver: the DAG as a workflow in a nestr.yaml, run by nestr's durable local executor.

The manifest is written to ``workdir/nestr-N.yaml`` (``version: 1``, ``repos: []``, one workflow
``benchN`` with ``concurrency``; steps ``uses: noop`` or ``run: "true"``) and loaded before the
clock starts, and the workflow is loaded and validated from it before the clock starts too, as
the peers' workflows are defined (decorated Python) before theirs. The timed region is
``nestr.workflow.run_workflow`` with that workflow — what ``nestr run`` calls once the
definition is loaded: record the run, plan it, execute it durably (store in ``workdir/state``).
The store is opened before the clock starts and closed after it stops, as a long-lived nestr
process (the server) holds it, and as the peers' engines are launched and shut down outside the
timed region (``DBOS.launch()``, the Temporal worker, Prefect's server).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import wf_common
from wf_common import Spec

if TYPE_CHECKING:
    from nestr.manifest.model import Manifest
    from nestr.workflow.model import Workflow


def manifest_text(case: Spec) -> str:
    lines = ["version: 1", "repos: []", "workflows:", f"  bench{case.steps}:",
             f"    concurrency: {case.concurrency}", "    steps:"]  # fmt: skip
    for step, needs in wf_common.layered_dag(case.steps, case.width).items():
        lines.append(f"      - id: {step}")
        if needs:
            lines.append(f"        needs: [{', '.join(needs)}]")
        lines.append('        run: "true"' if case.kind == "true" else "        uses: noop")
    return "\n".join(lines) + "\n"


def write_manifest(case: Spec) -> Path:
    path = case.workdir / f"nestr-{case.steps}.yaml"
    path.write_text(manifest_text(case), encoding="utf-8")
    return path


async def main(spec: Spec) -> float:
    from nestr.manifest.loader import load_manifest
    from nestr.store.db import open_database
    from nestr.workflow import run_workflow
    from nestr.workflow.loading import load_workflow

    db = open_database(spec.workdir / "state")

    async def execute(case: Spec, manifest: Manifest, workflow: Workflow) -> None:
        result = await run_workflow(
            workflow,
            manifest=manifest,
            state_dir=case.workdir / "state",
            jobs=case.concurrency,
            db=db,
        )
        if not result.ok or len(result.steps) != case.steps:
            raise RuntimeError(f"nestr run {result.status}: {result.counts()}")

    try:
        warmup = spec.warmup()
        manifest = load_manifest(write_manifest(warmup))
        await execute(warmup, manifest, load_workflow(manifest, f"bench{warmup.steps}"))
        manifest = load_manifest(write_manifest(spec))
        workflow = load_workflow(manifest, f"bench{spec.steps}")
        return await wf_common.timed_await(spec, lambda: execute(spec, manifest, workflow))
    finally:
        db.close()


if __name__ == "__main__":
    SPEC = wf_common.parse_spec()
    wf_common.report(SPEC, asyncio.run(main(SPEC)))
