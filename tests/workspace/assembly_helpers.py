"""Upstream repos, manifests and small process helpers for the assembly tests.

Upstreams are built once per session (``upstream_templates``) and copied per test so each test
can push new commits without affecting others.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nestr.events import EventBus
from nestr.manifest.model import Manifest, RepoSpec
from nestr.testing import GitRepo, git, isolated_environ
from nestr.workspace.assemble import AssembleOptions, assemble
from nestr.workspace.results import AssemblyResult

_TEMPLATES: dict[str, Path] = {}


def upstream_templates(factory: pytest.TempPathFactory) -> Path:
    """Directory with upstreams api, web, lib, docs: history, tags, a side branch (once)."""
    if "root" not in _TEMPLATES:
        root = factory.mktemp("upstreams")
        with pytest.MonkeyPatch.context() as patch:
            for key, value in isolated_environ(root / "_env").items():
                patch.setenv(key, value)
            for name in ("api", "web", "lib", "docs"):
                repo = GitRepo.init(root / name, files={"README.md": f"# {name}\n", "a.txt": "a\n"})
                repo.history(2)
                repo.tag("v1")
                repo.tag("v1-annotated", annotated=True)
                repo.branch("dev")
                repo.history(1)
        _TEMPLATES["root"] = root
    return _TEMPLATES["root"]


@dataclass(frozen=True)
class Project:
    """Upstream copies, a manifest directory and a workspace directory for one test."""

    tmp: Path
    upstreams: dict[str, GitRepo]

    @property
    def cache_dir(self) -> Path:
        return Path(os.environ["XDG_CACHE_HOME"]) / "nestr"

    @property
    def state_dir(self) -> Path:
        return Path(os.environ["XDG_STATE_HOME"]) / "nestr"

    @property
    def ws(self) -> Path:
        return self.tmp / "ws"

    def assemble(self, manifest: Manifest, **options: Any) -> AssemblyResult:
        """Assemble ``manifest`` into :attr:`ws` in-process (fetching always, unless told)."""
        options.setdefault("fetch_freshness", 0)
        opts = AssembleOptions(cache_dir=self.cache_dir, state_dir=self.state_dir, **options)
        return asyncio.run(assemble(manifest, self.ws, opts, bus=EventBus()))

    def spec(self, name: str, revision: str = "main", path: str | None = None) -> RepoSpec:
        return RepoSpec(
            name=name, url=self.upstreams[name].url, revision=revision, path=path or name
        )

    def manifest(self, *specs: RepoSpec, directory: str = "project") -> Manifest:
        """A manifest of ``specs``, also written as nestr.yaml for the CLI and the loader."""
        root = self.tmp / directory
        root.mkdir(exist_ok=True)
        path = root / "nestr.yaml"
        path.write_text(manifest_yaml(specs), encoding="utf-8")
        return Manifest(path=path, repos=tuple(specs))

    def repo(self, path: str, ws: Path | None = None) -> GitRepo:
        return GitRepo((ws or self.ws) / path)


def make_project(
    tmp: Path, templates: Path, names: Sequence[str] = ("api", "web", "lib")
) -> Project:
    upstreams = {}
    for name in names:
        shutil.copytree(templates / name, tmp / "up" / name, symlinks=True)
        upstreams[name] = GitRepo(tmp / "up" / name)
    return Project(tmp, upstreams)


def manifest_yaml(specs: Sequence[RepoSpec]) -> str:
    lines = ["version: 1", "repos:"]
    for spec in specs:
        lines += [
            f"  - name: {spec.name}",
            f"    url: {spec.url}",
            f"    revision: '{spec.revision}'",
            f"    path: {spec.path}",
        ]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GitDaemon:
    """A ``git://`` server on 127.0.0.1 whose every process the test owns.

    The listening socket is ours (bound to port 0, so no race for a free port), and each
    connection is served by ``git daemon --inetd`` as our own child. Stopping closes the socket
    and waits for every child: nothing can outlive the test, and no process is left to chance.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.children: list[subprocess.Popen[bytes]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        argv = [
            "git", "daemon", "--inetd", "--export-all", f"--base-path={self.base}", str(self.base)
        ]  # fmt: skip
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # the listener was shut down: stop serving
                return
            with conn:
                self.children.append(
                    subprocess.Popen(
                        argv,
                        stdin=conn.fileno(),
                        stdout=conn.fileno(),
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )

    def stop(self) -> None:
        """Stop accepting, then wait for every connection's server (killing one that hangs)."""
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join()
        for child in self.children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


@contextmanager
def git_daemon(base: Path) -> Iterator[int]:
    """A git daemon exporting ``base`` on 127.0.0.1; yields its port, stops it after."""
    daemon = GitDaemon(base)
    try:
        yield daemon.port
    finally:
        daemon.stop()


MARK_VARIABLE = "ASSEMBLY_TEST_MARK"


def nestr_process(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start ``python -m nestr ARGS`` with stderr piped, line-buffered text.

    The environment carries a mark every descendant inherits (git children too, even between
    fork and exec), so a test can wait for all of them after killing nestr.
    """
    env = {**os.environ, MARK_VARIABLE: str(cwd)}
    return subprocess.Popen(
        [sys.executable, "-m", "nestr", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def wait_for_git_processes_under(path: Path, limit: float = 20.0) -> None:
    """Wait until no process started by ``nestr_process(cwd=path)`` is left running.

    Children a killed nestr left behind are found by the mark in their environment, which
    also catches a child that was forked but had not yet exec'd git.
    """
    needle = f"{MARK_VARIABLE}={path}".encode() + b"\x00"
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not any(needle in environ for environ in _live_environs()):
            return
        time.sleep(0.02)
    raise RuntimeError(f"processes started under {path} did not finish")


def _live_environs() -> list[bytes]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            environ = (entry / "environ").read_bytes()
        except (OSError, IndexError):
            continue
        if state not in {"Z", "X"}:
            found.append(environ)
    return found


def is_complete_repo(path: Path) -> bool:
    """A checked-out repository: HEAD resolves and the work tree matches it."""
    if not (path / ".git").is_dir():
        return False
    try:
        git(path, "rev-parse", "--verify", "HEAD")
        return git(path, "status", "--porcelain", "--untracked-files=no") == ""
    except AssertionError:
        return False


def counting_git(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a `git` on PATH that logs each call's arguments, so a test can count processes."""
    real = shutil.which("git")
    assert real is not None
    bindir = tmp / "bin"
    bindir.mkdir()
    log = tmp / "git-calls.log"
    script = bindir / "git"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log
