"""What every workflow-benchmark driver shares: the DAG shape, the command line, the JSON report.

A driver runs in its peer's own virtual environment (so this module uses the standard library
only), executes one warm-up workflow of ``WARMUP_STEPS`` steps, then one timed workflow, and
prints one JSON object on stdout::

    {"seconds": 0.123, "steps": 100, "peak_rss_kb": 41234, "children_rss_kb": 0}

``seconds`` covers the run only (engine start-up, imports and the warm-up are outside it);
``peak_rss_kb`` is ``getrusage(RUSAGE_SELF).ru_maxrss`` of the driver; ``children_rss_kb`` is
the high-water mark of the driver's live child processes (e.g. Prefect's ephemeral API server).

The DAG is layered: ``width`` steps per layer, and every step needs *every* step of the layer
before it (a barrier between layers), so an engine tracks ``width`` dependencies per step and the
schedule is the same whether an engine starts steps as soon as they are ready or layer by layer.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

WARMUP_STEPS = 10


@dataclass(frozen=True)
class Spec:
    """One benchmark case as a driver receives it."""

    steps: int
    width: int
    concurrency: int
    kind: str  # "noop" or "true"
    workdir: Path
    profile: Path | None
    extra: dict[str, str]

    def warmup(self) -> Spec:
        """The same case, shrunk to the warm-up size."""
        return replace(self, steps=min(WARMUP_STEPS, self.steps), profile=None)


def step_id(index: int) -> str:
    return f"s{index:04d}"


def layered_dag(steps: int, width: int) -> dict[str, list[str]]:
    """Step id -> ids it needs, in a topological order (layer by layer)."""
    dag: dict[str, list[str]] = {}
    for index in range(steps):
        layer = index // width
        first_of_previous = (layer - 1) * width
        dag[step_id(index)] = (
            [step_id(i) for i in range(first_of_previous, first_of_previous + width)]
            if layer
            else []
        )
    return dag


def layers(steps: int, width: int) -> list[list[str]]:
    """The DAG's layers, each a list of step ids, in execution order."""
    ids = [step_id(i) for i in range(steps)]
    return [ids[start : start + width] for start in range(0, steps, width)]


def parse_spec(argv: list[str] | None = None) -> Spec:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--kind", choices=["noop", "true"], default="noop")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.set)
    return Spec(
        args.steps, args.width, args.concurrency, args.kind, args.workdir, args.profile, extra
    )


async def spawn_true() -> None:
    """The `run: "true"` step body, as an asyncio subprocess."""
    proc = await asyncio.create_subprocess_exec(
        "true",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if await proc.wait() != 0:
        raise RuntimeError("`true` failed")


def spawn_true_sync() -> None:
    """The `run: "true"` step body, for engines whose steps are threads."""
    subprocess.run(
        ["true"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )


def children_rss_kb() -> int:
    """Sum of VmHWM over this process's live descendants (0 when there are none)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text(encoding="utf-8")
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - family
        family |= frontier
    return sum(_vm_hwm_kb(pid) for pid in family)


def _vm_hwm_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class _Stopwatch:
    """Wall time of one region, under cProfile when the spec asks for a profile."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.profiler = cProfile.Profile() if spec.profile else None
        self.start = 0.0

    def begin(self) -> None:
        if self.profiler is not None:
            self.profiler.enable()
        self.start = time.perf_counter()

    def end(self) -> float:
        seconds = time.perf_counter() - self.start
        if self.profiler is not None and self.spec.profile is not None:
            self.profiler.disable()
            self.profiler.dump_stats(str(self.spec.profile))
        return seconds


def timed(spec: Spec, run: Callable[[], Any]) -> float:
    """Wall seconds of ``run()``."""
    watch = _Stopwatch(spec)
    watch.begin()
    run()
    return watch.end()


async def timed_await(spec: Spec, run: Callable[[], Coroutine[Any, Any, Any]]) -> float:
    """Wall seconds of ``await run()``, inside the caller's event loop."""
    watch = _Stopwatch(spec)
    watch.begin()
    await run()
    return watch.end()


def report(spec: Spec, seconds: float, **extra: object) -> None:
    """Print the driver's one-line JSON result."""
    result = {
        "seconds": seconds,
        "steps": spec.steps,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "children_rss_kb": children_rss_kb(),
        **extra,
    }
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
