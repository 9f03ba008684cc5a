"""Event-stream benchmark: nestr's gRPC ``Subscribe`` against plain ``grpc.aio`` floors.

    .venv/bin/python benchmarks/events_stream.py [--quick] [--rounds N] [--idle-subs N]

On loopback, ``nestr serve`` (a real process over a state dir of its own) is measured against
two floors built here (``_stream_floor.py``): a ``grpc.aio`` server that streams the same
generated ``nestr.v1`` messages from memory one per message, and the same batched like nestr.
Clients and the publisher are processes of their own (``_stream_client.py``). Measured:
delivered events/s at 1, 10 and 100 subscribers; latency p50/p99 at 1,000 events/s x 100
subscribers; the publisher's rate with one stalled subscriber against without; server RSS per
idle subscriber and the server's CPU while they are held open. See docs/benchmarks.md,
section "Event stream".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from _common import BENCH_DIR, NESTR_BIN, REPO_ROOT, WORK_DIR, bench_env, compile_sources, fresh_dir

PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
CLIENT = BENCH_DIR / "_stream_client.py"
FLOOR = BENCH_DIR / "_stream_floor.py"
RUN_DIR = WORK_DIR / "events_stream"
BATCH = 500  # nestr's StreamLimits().batch
NESTR = "nestr serve"
NESTR_COLD = "nestr serve, fresh per run"  # nothing converted before: every event from SQLite
FLOOR_ONE = "floor: grpc.aio, 1 event/message"
FLOOR_BATCH = f"floor: grpc.aio, {BATCH} events/message"
SUBSCRIBERS = (1, 10, 100)
GOAL_RATE = 150_000  # events/s delivered in total at 10 subscribers
GOAL_P99_MS = 50.0
GOAL_STALLED = 0.95
GOAL_RSS_KB = 50.0
LIVE_GRACE = 30  # seconds readers may take past the publisher's schedule
STOP_WAIT = 30  # seconds a server gets to exit after SIGTERM


@dataclass
class Server:
    """A running server process: its name, pid and address."""

    name: str
    proc: subprocess.Popen[str]
    address: str

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Setup:
    root: Path
    state: Path
    env: dict[str, str]
    events: int  # events in the log before anything is measured
    rounds: int
    stop_timeouts: list[str] = field(default_factory=list)  # servers killed after SIGTERM


@contextmanager
def server(name: str, argv: list[str | Path], setup: Setup) -> Iterator[Server]:
    """Start a server process, wait for its ``listening on`` line, SIGTERM it at the end."""
    log = (setup.root / f"{name.split(':', 1)[0].replace(' ', '-')}.log").open("a")
    proc = subprocess.Popen(
        [str(a) for a in argv], env=setup.env, stdout=subprocess.PIPE, stderr=log, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"{name} did not start: {line!r}")
        yield Server(name, proc, line.split()[-1])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_WAIT)
        except subprocess.TimeoutExpired:
            print(f"  {name} did not exit {STOP_WAIT} s after SIGTERM: killed", flush=True)
            setup.stop_timeouts.append(name)
            proc.kill()
            proc.wait()
        log.close()


def nestr_server(setup: Setup, name: str = NESTR) -> Iterator[Server]:
    return server(name, [NESTR_BIN, "serve", "--listen", "127.0.0.1:0"], setup)


def floor_server(setup: Setup, batch: int) -> Iterator[Server]:
    name = FLOOR_ONE if batch == 1 else FLOOR_BATCH
    return server(name, [PYTHON, FLOOR, setup.state, str(batch)], setup)


def client(*args: object) -> dict[str, float]:
    out = subprocess.run(
        [str(PYTHON), str(CLIENT), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"client {args[0]} failed: {out.stderr[-1500:]}")
    return dict(json.loads(out.stdout.splitlines()[-1]))


def head(setup: Setup) -> int:
    from nestr.store.eventlog import open_event_log

    log = open_event_log(setup.state)
    try:
        return log.head()
    finally:
        log.close()


def fill(setup: Setup) -> None:
    """Append ``setup.events`` events in one transaction (the log the streams replay)."""
    from nestr.events import Event
    from nestr.store.eventlog import open_event_log
    from nestr.store.eventrows import insert_event

    log = open_event_log(setup.state)
    with log.db.transaction() as conn:
        for i in range(setup.events):
            data = {"i": i, "step": f"build-{i % 50}", "status": "ok"}
            insert_event(conn, Event("nestr.bench.step", data, run_id="bench-run", repo="api"))
    log.close()


# --------------------------------------------------------------------------- measurements


def throughput(setup: Setup) -> dict[str, dict[int, float]]:
    """Delivered events/s per contender and subscriber count, medians of interleaved rounds.

    ``nestr serve`` is one server for every round, as a long-running server is: from its
    second read of an event on, the event comes from its cache of converted events. ``nestr
    serve, fresh per run`` is a new server for each measurement: nothing is converted before
    (its subscribers still share what one of them converts)."""
    rates: dict[str, dict[int, list[float]]] = {}

    def measure(srv: Server, subs: int) -> None:
        per_sub = setup.events // subs
        out = client("throughput", srv.address, subs, per_sub, setup.events - per_sub)
        rates.setdefault(srv.name, {}).setdefault(subs, []).append(out["events"] / out["seconds"])

    with nestr_server(setup) as a, floor_server(setup, 1) as b, floor_server(setup, BATCH) as c:
        for number in range(setup.rounds):
            for subs in SUBSCRIBERS:
                for srv in (a, b, c):
                    measure(srv, subs)
                with nestr_server(setup, NESTR_COLD) as fresh:
                    measure(fresh, subs)
            print(f"  throughput round {number + 1}/{setup.rounds} done", flush=True)
    return {n: {s: statistics.median(v) for s, v in by.items()} for n, by in rates.items()}


def live_round(
    srv: Server, setup: Setup, subs: int, count: int, rate: int, stalled: bool
) -> tuple[dict[str, float], dict[str, object]]:
    """One publisher run (``count`` events at ``rate``/s, 0: flat out) while ``subs`` clients
    read (and one stalls, if asked): the publisher's numbers and the clients'."""
    budget = int(count / rate if rate else 0) + LIVE_GRACE
    argv = [PYTHON, CLIENT, "live", srv.address, subs, count, head(setup), int(stalled), budget]
    proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("live client did not start")
    pub = client("publish", setup.state, count, rate)
    out, _ = proc.communicate(timeout=budget + 60)
    if proc.returncode != 0:
        raise RuntimeError("live client failed")
    return pub, dict(json.loads(out.splitlines()[-1]))


def latency(setup: Setup, duration: int) -> dict[str, float]:
    """p50/p99 of receive time − event time at 1,000 events/s to 100 subscribers (medians)."""
    p50: list[float] = []
    p99: list[float] = []
    delivered: list[float] = []
    count = 1000 * duration
    with nestr_server(setup) as srv:
        for _ in range(setup.rounds):
            _, out = live_round(srv, setup, 100, count, 1000, stalled=False)
            p50.append(float(out["p50_ms"]))  # type: ignore[arg-type]
            p99.append(float(out["p99_ms"]))  # type: ignore[arg-type]
            delivered.append(float(out["delivered"]) / (100 * count))  # type: ignore[arg-type]
    return {
        "p50_ms": statistics.median(p50),
        "p99_ms": statistics.median(p99),
        "delivered_share": min(delivered),
    }


def stalled(setup: Setup, count: int) -> dict[str, object]:
    """The publisher's rate with 10 readers, with and without one more that stalls."""
    rates: dict[bool, list[float]] = {False: [], True: []}
    endings: list[str] = []
    readers: dict[str, int] = {}  # how the 10 readers' streams ended, over every round
    with nestr_server(setup) as srv:
        for _ in range(setup.rounds):
            for stall in (False, True):
                pub, out = live_round(srv, setup, 10, count, 0, stalled=stall)
                rates[stall].append(pub["rate"])
                if stall:
                    endings.append(str(out["stalled_ending"]))
                for ending, number in out["readers_ended"].items():  # type: ignore[attr-defined]
                    readers[ending] = readers.get(ending, 0) + number
    without, with_stalled = (statistics.median(rates[k]) for k in (False, True))
    return {
        "rate_without": without,
        "rate_with": with_stalled,
        "ratio": with_stalled / without,
        "stalled_endings": endings,
        "readers_ended": readers,
    }


def idle(setup: Setup, subs: int, window: float) -> dict[str, dict[str, float]]:
    """Server RSS per idle subscriber and server CPU while ``subs`` streams are held open."""
    results: dict[str, dict[str, float]] = {}
    for start in (nestr_server, lambda s: floor_server(s, BATCH)):
        with start(setup) as srv:
            time.sleep(1.0)  # let the server finish starting before the baseline
            before = srv.rss_kb()
            argv = [PYTHON, CLIENT, "idle", srv.address, subs]
            proc = subprocess.Popen(
                [str(a) for a in argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("idle client did not start")
            after = srv.rss_kb()
            cpu = srv.cpu_s()
            time.sleep(window)
            cpu = srv.cpu_s() - cpu
            proc.communicate("", timeout=60)
            results[srv.name] = {
                "rss_before_kb": before,
                "rss_after_kb": after,
                "kb_per_subscriber": (after - before) / subs,
                "cpu_percent": 100 * cpu / window,
            }
    return results


# --------------------------------------------------------------------------- report


def throughput_table(rates: dict[str, dict[int, float]]) -> str:
    """Events/s per subscriber count, each with its ratio to the batched floor."""
    width = max(len(n) for n in rates)
    head_row = f"{'contender':<{width}}" + "".join(
        f"  {f'{s} sub' + ('s' if s > 1 else ''):>11}  {'x batched':>9}" for s in SUBSCRIBERS
    )
    lines = ["delivered events/s in total (medians; x = ratio to the batched floor)", head_row]
    floor = rates.get(FLOOR_BATCH, {})
    for name, by in rates.items():
        row = f"{name:<{width}}"
        for subs in SUBSCRIBERS:
            rate = by.get(subs)
            base = floor.get(subs)
            cell = f"{rate:>11,.0f}" if rate else f"{'-':>11}"
            ratio = f"{rate / base:>8.2f}x" if rate and base else f"{'-':>9}"
            row += f"  {cell}  {ratio}"
        lines.append(row)
    return "\n".join(lines)


def idle_table(idle_results: dict[str, dict[str, float]], subs: int) -> str:
    lines = [
        f"{subs} idle subscribers held open (one round)",
        f"{'server':<34}  {'RSS before':>10}  {'RSS after':>10}  {'KB/sub':>7}  {'CPU %':>6}",
    ]
    for name, r in idle_results.items():
        lines.append(
            f"{name:<34}  {r['rss_before_kb']:>8,.0f}KB  {r['rss_after_kb']:>8,.0f}KB"
            f"  {r['kb_per_subscriber']:>7.1f}  {r['cpu_percent']:>6.1f}"
        )
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def goals(results: dict[str, object]) -> list[str]:
    rates = results["throughput"][NESTR]  # type: ignore[index]
    lat = results["latency"]
    stall = results["stalled"]
    idle_nestr = results["idle"][NESTR]  # type: ignore[index]
    at10 = rates[10]
    cold = results["throughput"][NESTR_COLD][10]  # type: ignore[index]
    return [
        f"goal >= {GOAL_RATE:,} events/s at 10 subscribers: {at10:,.0f} with one server, "
        f"{cold:,.0f} fresh per run ({verdict(min(at10, cold) >= GOAL_RATE)})",
        f"goal p99 <= {GOAL_P99_MS:.0f} ms at 1,000 events/s x 100 subscribers: "
        f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms; "  # type: ignore[index]
        f"{lat['delivered_share']:.0%} delivered in time "  # type: ignore[index]
        f"({verdict(lat['p99_ms'] <= GOAL_P99_MS and lat['delivered_share'] == 1)})",  # type: ignore[index]
        f"goal publisher rate with a stalled subscriber >= {GOAL_STALLED:.0%} of without: "
        f"{stall['rate_with']:,.0f}/s vs {stall['rate_without']:,.0f}/s = "  # type: ignore[index]
        f"{stall['ratio']:.0%} ({verdict(stall['ratio'] >= GOAL_STALLED)}); "  # type: ignore[index]
        f"the stalled streams ended: {', '.join(stall['stalled_endings'])}",  # type: ignore[index]
        f"goal <= {GOAL_RSS_KB:.0f} KB server RSS per idle subscriber: "
        f"{idle_nestr['kb_per_subscriber']:.1f} KB "
        f"({verdict(idle_nestr['kb_per_subscriber'] <= GOAL_RSS_KB)})",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000, help="events in the replayed log")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each measurement")
    parser.add_argument("--seconds", type=int, default=10, help="length of the latency run")
    parser.add_argument("--burst", type=int, default=20_000, help="events of the stalled run")
    parser.add_argument("--idle-subs", type=int, default=1000, help="idle subscribers held")
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 round each")
    parser.add_argument("--json", type=Path, default=RUN_DIR / "results.json")
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds, args.seconds, args.burst, args.idle_subs = (
            10_000, 1, 3, 5_000, 200
        )  # fmt: skip
    compile_sources()
    root = fresh_dir(RUN_DIR)
    env = bench_env(root)
    env["NESTR_STATE_DIR"] = str(root / "state")
    setup = Setup(root, root / "state", env, args.events, args.rounds)
    fill(setup)
    print(f"{args.events:,} events in the log; {args.rounds} round(s) each", flush=True)
    results: dict[str, object] = {"events": args.events, "rounds": args.rounds}
    results["throughput"] = rates = throughput(setup)
    print(throughput_table(rates) + "\n", flush=True)
    results["latency"] = lat = latency(setup, args.seconds)
    print(f"latency, 1,000 events/s x 100 subscribers for {args.seconds} s (nestr serve): "
          f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms of the events delivered; "
          f"{lat['delivered_share']:.0%} delivered within {LIVE_GRACE} s of being due\n",
          flush=True)  # fmt: skip
    results["stalled"] = stall = stalled(setup, args.burst)
    print(f"publisher appending {args.burst:,} events flat out, 10 subscribers reading "
          f"(nestr serve): {stall['rate_without']:,.0f}/s alone, "  # type: ignore[str-format]
          f"{stall['rate_with']:,.0f}/s with one more that stalls; the readers' streams "
          f"ended: {stall['readers_ended']}\n", flush=True)  # fmt: skip
    results["idle"] = idle_results = idle(setup, args.idle_subs, 5.0 if args.quick else 10.0)
    results["idle_subscribers"] = args.idle_subs
    print(idle_table(idle_results, args.idle_subs) + "\n", flush=True)
    print("\n".join(goals(results)))
    results["stop_timeouts"] = setup.stop_timeouts
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
