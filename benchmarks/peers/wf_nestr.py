"""nestr driver: the DAG as a workflow in a nestr.yaml, run by nestr's durable local executor.

The manifest is written to ``workdir/nestr-N.yaml`` (``version: 1``, ``repos: []``, one workflow
``benchN`` with ``concurrency``; steps ``uses: noop`` or ``run: "true"``) and loaded before the
clock starts. The timed region is ``nestr.workflow.run_workflow`` — what ``nestr run`` calls:
load and validate the workflow, record the run, execute it durably (store in ``workdir/state``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import wf_common
from wf_common import Spec

if TYPE_CHECKING:
    from nestr.manifest.model import Manifest


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
    from nestr.workflow import run_workflow

    async def one_run(case: Spec, manifest: Manifest) -> None:
        result = await run_workflow(
            f"bench{case.steps}",
            manifest=manifest,
            state_dir=case.workdir / "state",
            jobs=case.concurrency,
        )
        if not result.ok or len(result.steps) != case.steps:
            raise RuntimeError(f"nestr run {result.status}: {result.counts()}")

    warmup = spec.warmup()
    await one_run(warmup, load_manifest(write_manifest(warmup)))
    manifest = load_manifest(write_manifest(spec))
    return await wf_common.timed_await(spec, lambda: one_run(spec, manifest))


if __name__ == "__main__":
    SPEC = wf_common.parse_spec()
    wf_common.report(SPEC, asyncio.run(main(SPEC)))
