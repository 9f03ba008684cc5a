"""Plugin benchmark: what a step costs when a plugin process does it, and what a start costs.

    .venv/bin/python benchmarks/plugins.py [--quick] [--steps N]

Three workflows of N (1,000) independent steps at concurrency 10, run in-process against one
warm plugin host: ``uses: bench.noop`` (an SDK plugin's noop, one gRPC ``Execute`` stream per
step), ``uses: noop`` (the in-process built-in) and ``run: "true"`` (one process per step). The
table shows the median wall time per step and the plugin step's cost over the in-process one.
Then the warm call alone (N sequential ``Execute`` streams, no workflow around them) and the
plugin's start (spawn, handshake, ``Describe``). Goal: a warm plugin call <= 1 ms. See
docs/benchmarks.md, section "Plugins".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from _common import REPO_ROOT, WORK_DIR, fresh_dir
from nestr.events import EventBus
from nestr.manifest.loader import load_manifest
from nestr.plugin._proto import plugin_pb2 as pb
from nestr.plugin._proto import plugin_pb2_grpc as pb_grpc
from nestr.plugins.host import PluginHost
from nestr.plugins.launch import Launch
from nestr.store.eventlog import open_event_log
from nestr.workflow import ExecutorOptions, run_workflow
from nestr.workflow.registry import StepRegistry

PLUGIN = """\
from nestr.plugin import Plugin

plugin = Plugin("bench")


@plugin.step("bench.noop")
async def noop(call):
    return None


plugin.serve()
"""
GOAL_MS = 1.0
CONCURRENCY = 10


def workflow(kind: str, steps: int) -> str:
    """A manifest with one workflow of ``steps`` independent steps of ``kind``."""
    line = {"plugin": "uses: bench.noop", "noop": "uses: noop", "true": 'run: "true"'}[kind]
    body = "".join(f"      - {{id: s{i}, {line}}}\n" for i in range(steps))
    head = f"version: 1\nrepos: []\nworkflows:\n  w:\n    concurrency: {CONCURRENCY}\n"
    return f"{head}    steps:\n{body}"


async def run_once(root: Path, kind: str, steps: int, registry: StepRegistry) -> float:
    """Seconds of one run of ``steps`` steps of ``kind`` (a fresh state dir)."""
    project = fresh_dir(root / f"{kind}-{steps}")
    (project / "nestr.yaml").write_text(workflow(kind, steps), encoding="utf-8")
    manifest = load_manifest(project / "nestr.yaml")
    began = time.perf_counter()
    result = await run_workflow(
        "w",
        manifest=manifest,
        state_dir=project / "state",
        registry=registry,
        options=ExecutorOptions(concurrency=CONCURRENCY),
    )
    took = time.perf_counter() - began
    assert result.status == "succeeded", result
    return took


async def warm_calls(host: PluginHost, calls: int) -> tuple[float, float]:
    """Median seconds of one ``Execute`` stream of ``bench.noop`` on the warm plugin, and of a
    unary ``Describe`` on the same channel (the machine's gRPC round trip), interleaved."""
    running = host.process("bench")
    stub = pb_grpc.StepPluginStub(running.channel())  # type: ignore[no-untyped-call]
    streams, unary = [], []
    for index in range(calls):
        request = pb.ExecuteRequest(execution_id=str(index), step_type="bench.noop")
        began = time.perf_counter()
        async for _ in stub.Execute(request, metadata=running.metadata):
            pass
        streams.append(time.perf_counter() - began)
        began = time.perf_counter()
        await stub.Describe(pb.DescribeRequest(), metadata=running.metadata)
        unary.append(time.perf_counter() - began)
    return statistics.median(streams), statistics.median(unary)


def start_times(launch: Launch, root: Path, rounds: int) -> list[float]:
    """Seconds from spawn to an answered ``Describe``, per round (a new plugin each time)."""
    times = []
    for _ in range(rounds):
        host = PluginHost({"bench": launch}, cwd=root)
        began = time.perf_counter()
        host.process("bench")
        times.append(time.perf_counter() - began)
        host.close()
    return times


async def main_async(steps: int, rounds: int) -> int:
    root = fresh_dir(WORK_DIR / "plugins")
    script = root / "bench_plugin.py"
    script.write_text(PLUGIN, encoding="utf-8")
    launch = Launch("bench", (sys.executable, str(script)), "benchmark")
    # the host publishes its lifecycle and call events to a durable log, as a session's does
    events = EventBus(sink=open_event_log(root / "host-state"))
    host = PluginHost({"bench": launch}, cwd=root, emit=events.emit)
    registry = StepRegistry(providers=[host])
    try:
        for kind in ("plugin", "noop", "true"):  # warm-up: imports, the plugin's start
            await run_once(root, kind, 20, registry)
        per_step: dict[str, list[float]] = {"plugin": [], "noop": [], "true": []}
        for _ in range(rounds):  # interleaved, so a slow phase of the machine hurts all alike
            for kind, times in per_step.items():
                times.append(await run_once(root, kind, steps, registry) / steps)
        warm = await warm_calls(host, steps)
    finally:
        host.close()
    starts = start_times(launch, root, rounds * 3)
    report(steps, {k: statistics.median(v) for k, v in per_step.items()}, warm, starts)
    return 0


def report(
    steps: int, per_step: dict[str, float], warm_and_floor: tuple[float, float], starts: list[float]
) -> None:
    warm, floor = warm_and_floor
    names = {
        "plugin": "`uses: bench.noop` (plugin process)",
        "noop": "`uses: noop` (in-process)",
        "true": '`run: "true"` (a process per step)',
    }
    print(f"{steps:,} independent steps, concurrency {CONCURRENCY}; medians\n")
    print("| step | per step | vs in-process noop |")
    print("| --- | --- | --- |")
    for kind, seconds in per_step.items():
        over = (seconds - per_step["noop"]) * 1000
        print(f"| {names[kind]} | {seconds * 1000:.3f} ms | {over:+.3f} ms |")
    verdict = "meets" if warm * 1000 <= GOAL_MS else "misses"
    print(
        f"\nwarm plugin call (one Execute stream, sequential, {steps:,} calls):"
        f" {warm * 1000:.3f} ms median ({verdict} the goal of <= {GOAL_MS:g} ms)"
    )
    print(
        f"gRPC floor on this machine (unary Describe, same channel): {floor * 1000:.3f} ms median"
    )
    print(
        f"plugin start (spawn, handshake, Describe; {len(starts)} starts): "
        f"{statistics.median(starts) * 1000:.0f} ms median, {max(starts) * 1000:.0f} ms max"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT / "src"))
    return asyncio.run(main_async(args.steps, 1 if args.quick else 3))


if __name__ == "__main__":
    sys.exit(main())
