"""TUI benchmark: `nestr ui`'s time to first screen on a big store, and the time from an
event's append to its appearance on screen at 100 and 2,000 events/s.

    .venv/bin/python benchmarks/tui.py [--quick] [--first-screen]

The store (10,000 runs, 1,000,000 events; --quick: 1,000 and 100,000) is written once through
the store's API (``RunStore.create_run``, ``insert_events``) and cached under
``benchmarks/.work/tui/``. The app runs headless in this process (Textual's ``run_test``); a
writer process appends ``step.log`` events through its own connection at a fixed rate, as a
run would. First screen: from building the source and the app to the Runs screen listing runs (in
process; a fresh ``nestr ui`` adds the import of Textual and ``nestr.tui``, measured apart); and
what a user waits for: a real ``.venv/bin/nestr ui`` started in a pseudo-terminal until the
terminal has been sent the newest run's id (its first rows painted).
Latency: from an event's append (its ``time``) to the end of the first redraw of the Events
screen that wrote it (the app's ``drawn`` hook). See docs/benchmarks.md, section "TUI".
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import resource
import select
import shutil
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from _common import NESTR_BIN, REPO_ROOT, WORK_DIR

sys.path.insert(0, str(REPO_ROOT / "src"))

from nestr.config.settings import Settings
from nestr.events import Event
from nestr.store.db import open_database
from nestr.store.eventrows import insert_events
from nestr.store.records import RunRecord
from nestr.store.runs import NewStep, RunStore

GOAL_FIRST_SCREEN = 0.5  # seconds
CHUNK = 20_000  # events per transaction while building the store
WRITER = """
import sys, time
from nestr.events import Event
from nestr.store.eventlog import open_event_log
log = open_event_log(__import__("pathlib").Path(sys.argv[1]))
rate, seconds = float(sys.argv[2]), float(sys.argv[3])
start = time.monotonic()
for n in range(int(rate * seconds)):
    due = start + n / rate
    while time.monotonic() < due:
        time.sleep(max(0.0, min(due - time.monotonic(), 0.002)))
    log.append(Event("nestr.workflow.step.log", {"stream": "stdout", "text": f"line {n}\\n",
               "attempt": 1}, run_id="bench", step="tick"))
log.close()
"""


def build_store(runs: int, events: int) -> Path:
    """The cached state dir with ``runs`` runs and ``events`` events."""
    state = WORK_DIR / "tui" / f"store-{runs}-{events}"
    if (state / "complete").exists():
        return state
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    db = open_database(state)
    store = RunStore(db)
    now = time.time() - runs * 60
    definition = {"name": "build", "steps": [{"id": "make", "uses": "noop"}]}
    for n in range(runs):
        run_id = f"{n:016x}"
        record = RunRecord(run_id, "build", "running", definition, {}, {}, now + 60 * n)
        started = Event("nestr.workflow.run.started", {"workflow": "build", "steps": 1})
        store.create_run(record, [NewStep("make", "make", None)], started)
    for first in range(runs, events, CHUNK):
        batch = [
            Event("nestr.workflow.step.log", {"text": f"line {n}\n"}, run_id=f"{n % runs:016x}")
            for n in range(first, min(events, first + CHUNK))
        ]
        with db.transaction() as conn:
            insert_events(conn, batch)
    db.close()
    (state / "complete").touch()
    return state


async def first_screen(state: Path) -> float:
    """Seconds from building the app to the Runs screen listing runs."""
    from nestr.session import Session
    from nestr.tui.app import NestrApp
    from nestr.tui.source import LocalSource
    from nestr.tui.table import LiveTable

    began = time.perf_counter()
    app = NestrApp(LocalSource(Session(Settings(state_dir=state), cwd=REPO_ROOT)))
    async with app.run_test(size=(140, 40)) as pilot:
        while not app.screen.query(LiveTable) or not app.screen.query_one(LiveTable).row_count:
            await pilot.pause(0.005)
        took = time.perf_counter() - began
    return took


async def latency(state: Path, rate: float, seconds: float) -> list[float]:
    """Append-to-screen latencies (seconds) of the events a writer appends at ``rate``."""
    from nestr.session import Session
    from nestr.store.eventlog import open_event_log
    from nestr.tui.app import NestrApp
    from nestr.tui.source import LocalSource

    drawn: list[tuple[float, int]] = []
    app = NestrApp(LocalSource(Session(Settings(state_dir=state), cwd=REPO_ROOT)))
    app.drawn = lambda cursor: drawn.append((time.time(), cursor))
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("4")
        while app.state.cursor == 0:
            await pilot.pause(0.01)
        head = app.state.cursor
        argv = [sys.executable, "-c", WRITER, str(state), str(rate), str(seconds)]
        writer = await asyncio.create_subprocess_exec(*argv, env=_env())
        await writer.wait()
        log = open_event_log(state)
        last = log.head()
        while app.state.cursor < last:
            await pilot.pause(0.01)
        appended = {e.seq: e.time.timestamp() for e in log.read(head) if e.seq is not None}
        log.close()
    return _latencies(appended, drawn)


def _latencies(appended: dict[int, float], drawn: list[tuple[float, int]]) -> list[float]:
    found, i = [], 0
    for seq in sorted(appended):
        while drawn[i][1] < seq:
            i += 1
        found.append(drawn[i][0] - appended[seq])
    return found


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}


def fresh_ui(state: Path, runs: int) -> float:
    """Seconds from starting a real `nestr ui` in a pseudo-terminal (140×40) to its output
    holding the newest run's id: the Runs screen has painted its first rows. Everything a
    user waits for is in it: the interpreter, the CLI, the config, the imports, the store,
    the app's start and the terminal driver's first frame."""
    marker = f"{runs - 1:016x}".encode()  # runs are listed newest first
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    env = {**_env(), "NESTR_STATE_DIR": str(state), "TERM": "xterm-256color"}
    began = time.perf_counter()
    proc = subprocess.Popen(
        [str(NESTR_BIN), "ui"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=state,
        start_new_session=True,
    )
    os.close(slave)
    try:
        took = _until(master, marker, began)
        os.write(master, b"q")
        _drain(master, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return took


def _until(master: int, marker: bytes, began: float, limit: float = 30.0) -> float:
    """Read the terminal until ``marker`` was written to it; seconds since ``began``."""
    seen = b""
    while marker not in seen[-65_536:]:
        ready, _, _ = select.select([master], [], [], limit)
        if not ready:
            raise TimeoutError(f"nestr ui showed no {marker.decode()} within {limit:.0f} s")
        seen += os.read(master, 65_536)
    return time.perf_counter() - began


def _drain(master: int, proc: subprocess.Popen[bytes], limit: float = 10.0) -> None:
    """Read what the app still writes until it has quit: a full terminal would block it."""
    deadline = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                os.read(master, 65_536)
            except OSError:  # the app closed the terminal
                break
    proc.wait(timeout=max(0.1, deadline - time.monotonic()))


def import_seconds() -> float:
    """What a fresh `nestr ui` process spends importing the UI (Textual and nestr.tui), the
    median of 3 fresh interpreters: the part of opening the first screen that the in-process
    measure leaves out (with the interpreter's own start, about 20 ms)."""
    code = (
        "import time; t = time.perf_counter(); import nestr.tui.app; print(time.perf_counter() - t)"
    )
    argv = [sys.executable, "-c", code]
    runs = []
    for _ in range(3):
        done = subprocess.run(argv, env=_env(), capture_output=True, text=True, check=True)
        runs.append(float(done.stdout))
    return sorted(runs)[1]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if values else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller store, shorter runs")
    parser.add_argument(
        "--first-screen", action="store_true", help="time the first screen only, no latencies"
    )
    args = parser.parse_args()
    runs, events, seconds = (1_000, 100_000, 2.0) if args.quick else (10_000, 1_000_000, 5.0)
    began = time.perf_counter()
    state = build_store(runs, events)
    print(f"store: {runs:,} runs, {events:,} events ({time.perf_counter() - began:.1f}s)")
    imported = import_seconds()
    asyncio.run(first_screen(state))  # warm-up: imports, the store's pages in the OS cache
    opened = statistics.median(asyncio.run(first_screen(state)) for _ in range(5))
    parts = imported + opened
    fresh_ui(state, runs)  # warm-up: the executable's modules in the OS cache
    fresh = statistics.median(fresh_ui(state, runs) for _ in range(5))
    goal = f"goal ≤ {GOAL_FIRST_SCREEN * 1000:.0f} ms"
    rows = [
        ("first screen, in process (median of 5)", f"{opened * 1000:.0f} ms", ""),
        ("import of Textual and nestr.tui, fresh process", f"{imported * 1000:.0f} ms", ""),
        (
            "the two: a fresh `nestr ui` less interpreter and CLI start",
            f"{parts * 1000:.0f} ms",
            "",
        ),
        (
            "`nestr ui` in a terminal to its first rows (median of 5)",
            f"{fresh * 1000:.0f} ms",
            goal,
        ),
    ]
    for rate in () if args.first_screen else (100, 2_000):
        found = asyncio.run(latency(state, rate, seconds))
        p50, p99 = percentile(found, 50), percentile(found, 99)
        rows.append((f"append → screen at {rate:,} events/s", f"p50 {p50 * 1000:.0f} ms",
                     f"p99 {p99 * 1000:.0f} ms"))  # fmt: skip
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("max RSS of the benchmark process", f"{rss:.0f} MB", ""))
    print("| measure | value | |\n| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for name, took in (("in process", opened), ("`nestr ui` in a terminal", fresh)):
        ok = "met" if took <= GOAL_FIRST_SCREEN else "MISSED"
        print(f"goal: first screen ({name}) <= {GOAL_FIRST_SCREEN * 1000:.0f} ms: {ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
