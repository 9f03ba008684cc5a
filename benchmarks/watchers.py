"""Watcher cost: a 1,000-step noop run and a 60-repo warm assembly, each watcher on against off.

    .venv/bin/python benchmarks/watchers.py [--quick] [--run-rounds 36] [--rounds 9] [--only ROW]
                                            [--sets 3] [--steps 1000] [--repos 60] [--no-pin]

Every row of the table is a real ``nestr serve`` started with the settings that turn watchers on
(``watchers()``: one line per watcher or combination; traces and webhooks go to receivers of
this process), each with a state dir of its own and one shared, warm mirror cache; two more
servers run with every watcher off (the second shows the noise of the
measurement: off is the baseline, and with a watcher's setting unset nothing of it is imported
or started, which tests guard). A client asks each server in turn, round after round (in an
order shuffled each round), for a run of a layered 1,000-step ``noop`` workflow (width 10,
concurrency 10) and for a ``--locked`` assembly of 60 repos into a new directory from the warm
cache, and reads how long each took from the event that ends it (``seconds`` of
``run.finished`` and ``assembly.finished``, measured by the server, so the client's polling adds
nothing) and the server's CPU time around it. The rounds are shared among ``--sets`` sets of
servers started one after the other (two processes doing the same work differ by a few percent:
each row's median then spans several), and during the runs the servers share one CPU and the
client the others. The tables show medians and the ratio to off. See docs/benchmarks.md,
section "Watchers".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    NESTR_BIN,
    WORK_DIR,
    Contender,
    bench_env,
    compile_sources,
    empty_trash,
    fresh_dir,
    ratio_table,
    run,
)
from _gitdata import generate_repos, git_daemon
from _manifests import Setup, nestr_manifest
from _receivers import SECRET, otlp_sink, webhook_sink


@dataclass(frozen=True)
class Watcher:
    """A row of the table: a name and the settings (``--set KEY=VALUE``) that turn it on."""

    name: str
    settings: Mapping[str, str] = field(default_factory=dict)


RUN_END, ASSEMBLY_END = "nestr.workflow.run.finished", "nestr.workspace.assembly.finished"


def watchers(otlp: str, hook: str) -> tuple[Watcher, ...]:
    """One line per watcher (its settings go to `nestr serve` as --set KEY=VALUE), then the
    pair metrics and tracing, and them with webhooks. A webhook row delivers either the ends
    of runs and assemblies (what an endpoint usually asks for) or every event. The audit trail
    is always on (every row has it); traces go to ``otlp``, webhooks to ``hook`` (receivers of this
    process)."""
    metrics = {"metrics.listen": "127.0.0.1:0"}
    tracing = {"otel.endpoint": otlp}
    every = {"webhooks.bench.url": hook, "webhooks.bench.secret": SECRET}
    ends = {**every, "webhooks.bench.types": f"{RUN_END} {ASSEMBLY_END}"}
    return (
        Watcher("metrics", metrics),
        Watcher("tracing", tracing),
        Watcher("webhooks, ends only", ends),
        Watcher("webhooks, every event", every),
        Watcher("metrics + tracing", {**metrics, **tracing}),
        Watcher("metrics + tracing + webhooks (ends)", {**metrics, **tracing, **ends}),
    )


OFF = Watcher("off")
NOISE = Watcher("off (a second server)")
GOAL = 1.05  # a watcher that is on costs at most 5%
POLL = 0.02  # seconds between the client's checks for the event that ends the work
GUARD = 600.0  # seconds any one piece of work may take


@dataclass
class Server:
    """A running ``nestr serve`` for one row and the client stubs that talk to it."""

    watcher: Watcher
    process: subprocess.Popen[str]
    address: str
    stubs: Stubs


@dataclass(frozen=True)
class Stubs:
    """gRPC stubs of one server (protoc writes no types for them)."""

    events: Any
    workflows: Any
    workspaces: Any


def start_server(watcher: Watcher, state: Path, env: dict[str, str]) -> Server:
    """``nestr --set ... serve`` on a free port with a state dir of its own; once listening."""
    from grpc import insecure_channel

    from nestr.server._proto import events_pb2_grpc, workflow_pb2_grpc, workspace_pb2_grpc

    sets = [f"--set={key}={value}" for key, value in watcher.settings.items()]
    process = subprocess.Popen(
        [str(NESTR_BIN), *sets, "serve", "--listen", "127.0.0.1:0"],
        env={**env, "NESTR_STATE_DIR": str(state), "NESTR_SERVER__RESUME_INTERRUPTED": "false"},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"nestr serve for {watcher.name!r} did not start: {line!r}")
    address = line.split()[-1]
    channel = insecure_channel(address)
    stubs = Stubs(
        events_pb2_grpc.EventServiceStub(channel),
        workflow_pb2_grpc.WorkflowServiceStub(channel),
        workspace_pb2_grpc.WorkspaceServiceStub(channel),
    )
    return Server(watcher, process, address, stubs)


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


@contextmanager
def servers(rows: Sequence[Watcher], root: Path, env: dict[str, str]) -> Iterator[list[Server]]:
    with ExitStack() as stack:
        started = []
        for index, watcher in enumerate(rows):
            server = start_server(watcher, fresh_dir(root / "state" / str(index)), env)
            stack.callback(stop_server, server)
            started.append(server)
        yield started


# --------------------------------------------------------------------------- the work


def workflow_manifest(path: Path, steps: int, width: int = 10) -> Path:
    """A layered DAG of ``noop`` steps: each step needs every step of the layer before."""
    lines = ["version: 1", "repos: []", "workflows:", "  bench:", f"    concurrency: {width}"]
    lines.append("    steps:")
    for index in range(steps):
        layer, previous = index // width, (index // width - 1) * width
        needs = ", ".join(f"s{i:04d}" for i in range(previous, previous + width)) if layer else ""
        after = f", needs: [{needs}]" if needs else ""
        lines.append(f"      - {{id: s{index:04d}, uses: noop{after}}}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ended(server: Server, after: int, kind: str, *, run_id: str = "", cid: str = "") -> Any:
    """The data of the first event of type ``kind`` after ``after`` of run ``run_id`` or
    correlation ``cid`` (polled; the time it reports is the server's own measure)."""
    from nestr.server._proto import events_pb2 as pb

    deadline = time.monotonic() + GUARD
    while time.monotonic() < deadline:
        request = pb.GetEventsRequest(after_seq=after, types=[kind], run_id=run_id)
        page = server.stubs.events.GetEvents(request)
        for event in page.events:
            if not cid or event.correlation_id == cid:
                return json.loads(event.data_json)
        after = page.next_after_seq
        time.sleep(POLL)
    raise RuntimeError(f"no {kind} within {GUARD:g} s")


def head(server: Server) -> int:
    from nestr.server._proto import events_pb2 as pb

    seq: int = server.stubs.events.Head(pb.HeadRequest()).head_seq
    return seq


def run_workflow(server: Server, manifest: Path) -> float:
    from nestr.server._proto import workflow_pb2 as pb

    start = head(server)
    request = pb.StartRunRequest(workflow="bench", manifest=str(manifest))
    run_id = server.stubs.workflows.StartRun(request).run_id
    data = ended(server, start, "nestr.workflow.run.finished", run_id=run_id)
    if data.get("status") != "succeeded":
        raise RuntimeError(f"run {run_id} of {server.watcher.name!r}: {data}")
    return float(data["seconds"])


def assemble(server: Server, manifest: Path, workspace: Path) -> float:
    from nestr.server._proto import workspace_pb2 as pb

    start = head(server)
    request = pb.AssembleRequest(manifest=str(manifest), workspace=str(workspace), locked=True)
    cid = server.stubs.workspaces.Assemble(request).correlation_id
    data = ended(server, start, "nestr.workspace.assembly.finished", cid=cid)
    if not data.get("ok"):
        raise RuntimeError(f"assembly of {server.watcher.name!r} failed: {data}")
    return float(data["seconds"])


# --------------------------------------------------------------------------- measuring


SETTLE = 0.3  # seconds after the work ends that always count for CPU: a watcher's tail
# (longer than the metrics counter's 0.25 s tick, so its last turn is always inside)
IDLE_WINDOW = 0.1  # then CPU counts until the server used less than IDLE_CPU in this long
IDLE_CPU = 0.003  # (an idle server uses well under 1 ms of it)


def cpu_seconds(server: Server) -> float:
    """CPU time of every thread of the server so far (``schedstat``: nanoseconds)."""
    total = 0
    for task in Path(f"/proc/{server.process.pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text(encoding="ascii").split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total / 1e9


@dataclass
class Row:
    """One server's results for one kind of work: wall seconds and server CPU seconds."""

    wall: Contender
    cpu: Contender


def measure(
    rows: list[Server],
    rounds: int,
    work: Callable[[Server, int, int], float],
    results: dict[str, Row],
    shuffle: random.Random,
) -> None:
    """``work(server, row, round)`` for every server, round after round, in an order shuffled
    each round (round -1: warm-up, untimed, in order); its wall seconds (as the server measured
    them) and the server's CPU seconds from its start until it is idle again (:func:`quiet`), added
    to ``results`` under the server's row name."""
    for index, server in enumerate(rows):
        work(server, index, -1)
    for number in range(rounds):
        order = list(enumerate(rows))
        shuffle.shuffle(order)  # no row always runs first, or after the same other row
        for index, server in order:
            row = results[server.watcher.name]
            print(f"  round {number + 1}: {server.watcher.name}", file=sys.stderr)
            os.sync()
            before = cpu_seconds(server)
            row.wall.times.append(work(server, index, number))
            row.cpu.times.append(quiet(server) - before)


def quiet(server: Server) -> float:
    """The server's CPU seconds once it is idle: :data:`SETTLE` after the work, then until a
    :data:`IDLE_WINDOW` goes by in which it used less than :data:`IDLE_CPU`. What a watcher
    does after the work (a webhook backlog being delivered) counts for its row, and never
    runs into the next server's turn."""
    time.sleep(SETTLE)
    now = cpu_seconds(server)
    deadline = time.monotonic() + GUARD
    while time.monotonic() < deadline:
        time.sleep(IDLE_WINDOW)
        then, now = now, cpu_seconds(server)
        if now - then < IDLE_CPU:
            return now
    raise RuntimeError(f"{server.watcher.name!r} stayed busy for {GUARD:g} s after its work")


@dataclass(frozen=True)
class Cpus:
    """Where each side runs: the servers on one CPU, this process (the client and the
    receivers) on the others, so the two never take turns on one core; None: no pinning
    (one CPU, or a platform without affinity)."""

    servers: set[int]
    client: set[int]
    every: set[int]

    @classmethod
    def split(cls) -> Cpus | None:
        if not hasattr(os, "sched_setaffinity"):
            return None
        every = set(os.sched_getaffinity(0))
        if len(every) < 2:
            return None
        last = max(every)
        return cls({last}, every - {last}, every)

    def pin(self, servers: Sequence[Server]) -> None:
        _affinity(os.getpid(), self.client)  # the receivers' threads too
        for server in servers:
            _affinity(server.process.pid, self.servers)

    def unpin(self, servers: Sequence[Server]) -> None:
        _affinity(os.getpid(), self.every)
        for server in servers:
            _affinity(server.process.pid, self.every)


def _affinity(pid: int, cpus: set[int]) -> None:
    """Every thread of process ``pid`` on ``cpus`` (an affinity belongs to a thread, and the
    threads and processes it starts inherit it)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(task.name), cpus)


def _share(rounds: int, sets: int, index: int) -> int:
    """Set ``index``'s share of ``rounds`` split over ``sets`` (the first ones take the rest)."""
    return rounds // sets + (1 if index < rounds % sets else 0)


def _none(_: int) -> None:
    """Contender's action: the rows are filled by :func:`measure` instead."""


def goal_lines(tables: dict[str, list[Contender]], rows: Sequence[Watcher]) -> list[str]:
    """Per table, the noise (off against off) and each watcher's cost against the goal: the
    round-by-round cost (:func:`paired_cost`) and its 95% confidence interval."""
    lines = []
    for title, cells in tables.items():
        by_name = {c.name: c.times for c in cells}
        base = by_name.get(OFF.name)
        if not base:
            continue
        noise = by_name.get(NOISE.name)
        if noise:
            cost, low, high = paired_cost(noise, base)
            lines.append(
                f"{title}: off vs off {cost:+.1%} ({_interval(len(base))} {low:+.1%} to "
                f"{high:+.1%}; the noise of the measure)"
            )
        for watcher in rows:
            times = by_name.get(watcher.name)
            if times:
                cost, low, high = paired_cost(times, base)
                met = "met" if cost <= GOAL - 1 else "NOT met"
                lines.append(
                    f"{title}: {watcher.name} on costs {cost:+.1%} "
                    f"({_interval(len(base))} {low:+.1%} to {high:+.1%}; "
                    f"goal <= {GOAL - 1:.0%}: {met})"
                )
    return lines


def _interval(rounds: int) -> str:
    """What :func:`paired_cost`'s bounds are: under 6 rounds no two order statistics hold the
    median with 95% confidence, and the bounds are just the lowest and highest ratio."""
    return "95% CI" if rounds >= 6 else f"range of {rounds} rounds"


def paired_cost(times: Sequence[float], base: Sequence[float]) -> tuple[float, float, float]:
    """What ``times`` cost over ``base``, round by round: the median of the ratios of the
    same round, less one, and its 95% confidence interval (distribution-free: order
    statistics of the ratios). Every row runs once per round, so the two lists line up. A
    median, as in the tables, because this machine's noise has a long tail: now and then one
    run takes twice as long, whichever row it falls on."""
    ratios = sorted(t / b for t, b in zip(times, base, strict=True))
    count = len(ratios)
    # the ranks around the median that hold it with 95% confidence (normal approximation
    # of the binomial: +-1.96 * sqrt(n)/2 ranks); the whole range for a handful of rounds
    reach = math.ceil(0.98 * math.sqrt(count))
    low, high = max(0, count // 2 - reach), min(count - 1, (count - 1) // 2 + reach)
    return statistics.median(ratios) - 1, ratios[low] - 1, ratios[high] - 1


def spread(cell: Contender) -> str:
    """The range of a row's rounds, to judge a median against."""
    if len(cell.times) < 2:
        return ""
    low, high, dev = min(cell.times), max(cell.times), statistics.stdev(cell.times)
    return f"{cell.name}: min {low:.3f} s, max {high:.3f} s, stdev {dev:.3f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="assembly rounds per row")
    parser.add_argument("--run-rounds", type=int, default=36, help="run rounds per row")
    parser.add_argument("--steps", type=int, default=1000, help="noop steps of the run")
    parser.add_argument("--repos", type=int, default=60, help="repos of the warm assembly")
    parser.add_argument("--commits", type=int, default=300, help="commits per repository")
    parser.add_argument("--files", type=int, default=300, help="files per repository")
    parser.add_argument(
        "--sets", type=int, default=3,
        help="sets of servers started one after the other, each doing its share of the rounds",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="seed of the rounds' order")
    parser.add_argument(
        "--no-pin", action="store_true", help="leave servers and client on every CPU"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 and 3 rounds")
    parser.add_argument("--raw", type=Path, help="also write every round's times here (JSON)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="ROW",
        help="measure only this watcher row (repeatable; the two off rows always run)",
    )
    args = parser.parse_args(argv)
    rounds, run_rounds = (2, 3) if args.quick else (args.rounds, args.run_rounds)
    generations = 1 if args.quick else max(1, args.sets)
    compile_sources()
    root = fresh_dir(WORK_DIR / "watchers")
    env = bench_env(root)
    print(f"generating {args.repos} repositories ({args.commits} commits, {args.files} files)")
    data = generate_repos(args.repos, commits=args.commits, files=args.files)
    tables: dict[str, list[Contender]] = {}
    with git_daemon(data) as daemon, otlp_sink() as (otlp, spans), webhook_sink() as (hook, hits):
        on = tuple(w for w in watchers(otlp, hook) if not args.only or w.name in args.only)
        if not on:
            parser.error(f"no watcher row named {args.only}")
        rows = [OFF, *on, NOISE]
        setup = Setup(args.repos, daemon.url_base, root, env)
        manifest = nestr_manifest(setup, root / "project" / "nestr.yaml")
        run([NESTR_BIN, "lock", "-m", manifest], env=env)  # fills the shared cache too
        flow = workflow_manifest(root / "flow" / "nestr.yaml", args.steps)
        checkouts = fresh_dir(root / "checkouts")

        def assembly(server: Server, index: int, number: int) -> float:
            target = fresh_dir(checkouts / f"ws-{index}", defer_delete=True)
            empty_trash(checkouts)
            return assemble(server, manifest, target)

        cpus = None if args.no_pin else Cpus.split()
        runs = {w.name: Row(Contender(w.name, _none), Contender(w.name, _none)) for w in rows}
        assemblies = {w.name: Row(Contender(w.name, _none), Contender(w.name, _none)) for w in rows}
        shuffle = random.Random(args.seed)
        for generation in range(generations):
            print(f"servers, set {generation + 1} of {generations}", file=sys.stderr)
            with servers(rows, root / f"set-{generation}", env) as started:
                if cpus is not None:
                    cpus.pin(started)
                print(f"{args.steps}-step run", file=sys.stderr)
                measure(
                    started, _share(run_rounds, generations, generation),
                    lambda server, _, __: run_workflow(server, flow), runs, shuffle,
                )  # fmt: skip
                if cpus is not None:
                    cpus.unpin(started)  # git's processes use every core, as they would
                print(f"{args.repos}-repo assembly", file=sys.stderr)
                measure(
                    started, _share(rounds, generations, generation), assembly, assemblies,
                    shuffle,
                )  # fmt: skip
    work = {f"{args.steps}-step noop run": runs, f"{args.repos}-repo warm assembly": assemblies}
    for title, results in work.items():
        tables[f"{title}, wall"] = [row.wall for row in results.values()]
        tables[f"{title}, server CPU"] = [row.cpu for row in results.values()]
    if args.raw is not None:
        raw = {title: {c.name: c.times for c in cells} for title, cells in tables.items()}
        args.raw.write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    print()
    for title, cells in tables.items():
        print(ratio_table(f"{title} (seconds, median)", cells, baseline=OFF.name))
        print("\n".join(filter(None, map(spread, cells))) + "\n")
    print("\n".join(goal_lines(tables, on)))
    print(f"(the receivers took {spans[0]:,} spans and {hits[0]:,} webhook deliveries)")
    print(
        f"\nEach round asks every server in turn, in a shuffled order; {generations} set(s) of"
        "\nservers share the rounds. Wall: the `seconds` of the event that ends the work"
        "\n(measured by the server). Server CPU: every thread of the server process, from the"
        f"\nrequest until it is idle again, at least {SETTLE:g} s after the end (git's processes"
        "\nare not in it)."
        + (
            ""
            if cpus is None
            else "\nDuring the runs the servers share one CPU, the client the others."
        )
    )
    empty_trash(checkouts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
