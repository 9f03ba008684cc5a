"""The CLI as a client: a real `nestr serve` process over the sample product, on 127.0.0.1."""

from __future__ import annotations

import re
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.server.processes import listening, start_serve

from nestr.demo.product import SampleProduct, build_sample_product

GUARD = 60  # seconds: a hung server or follower fails the test instead of hanging the suite
TOKEN = "t0ken-of-the-client-tests"


@dataclass
class Serving:
    """A running `nestr serve`: its process and the address it printed."""

    proc: subprocess.Popen[str]
    address: str

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """End it with ``sig`` and wait until it is gone."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.communicate(timeout=GUARD)


def serve(cwd: Path, *, listen: str = "127.0.0.1:0", **env: str) -> Serving:
    """Start `nestr serve` in ``cwd`` (the test's isolated environment plus ``env``) and wait
    until it listens."""
    proc = start_serve(None, env=env, cwd=cwd, listen=listen, stderr=subprocess.DEVNULL)
    return Serving(proc, listening(proc))


@pytest.fixture
def product(tmp_path: Path) -> SampleProduct:
    """The sample product (real git remotes), its workspace assembled in the manifest's
    directory."""
    from nestr.cli.main import main

    built = build_sample_product(tmp_path / "sample")
    assert main(["-C", str(built.manifest.parent), "assemble"]) == 0
    return built


@pytest.fixture
def server(product: SampleProduct) -> Iterator[Serving]:
    """`nestr serve` started in the product's directory, sharing the test's state dir."""
    running = serve(product.manifest.parent)
    try:
        yield running
    finally:
        running.stop()


def write_project(tmp_path: Path, workflows: str) -> Path:
    """A directory ``project`` whose nestr.yaml is ``workflows`` (dedented)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "nestr.yaml").write_text(textwrap.dedent(workflows).lstrip(), encoding="utf-8")
    return root


@pytest.fixture
def served(project: Path) -> Iterator[Serving]:
    """`nestr serve` started in the test module's ``project`` directory."""
    running = serve(project)
    try:
        yield running
    finally:
        running.stop()


SECONDS = re.compile(r"\d+\.\d+s\b")
RUN_ID = re.compile(r"\b[0-9a-f]{16}\b")


def timeless(text: str) -> str:
    """``text`` with durations (``0.14s``) and run ids replaced: what differs between two
    runs of the same work."""
    return RUN_ID.sub("<run>", SECONDS.sub("<s>", text))
