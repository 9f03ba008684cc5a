"""Benchmark repositories: realistic history made quickly with ``git fast-import``, served by
``git daemon`` on 127.0.0.1.

Each repository gets ``files`` text files in its first commit, then ``commits - 1`` commits that
each rewrite a few lines of one to three files, so clones carry real history and packs of a
realistic shape. Generation is deterministic (seeded by the repository's index) and done once:
a stamp file records the parameters, and the repositories are reused by later runs.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _common import WORK_DIR, base_env, run

EPOCH = 1_700_000_000
WORDS = (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda", "sigma",
    "omega", "build", "test", "deploy", "config", "service", "client", "server", "queue", "cache",
)  # fmt: skip


def repo_name(index: int) -> str:
    return f"r{index:02d}"


def generate_repos(count: int, *, commits: int, files: int) -> Path:
    """Bare repositories ``r00.git`` … under ``.work/data/<shape>``; generated once, reused."""
    base = WORK_DIR / "data" / f"repos-{commits}c-{files}f"
    base.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        target = base / f"{repo_name(index)}.git"
        if not (target / "nestr-bench-complete").exists():
            _generate_one(target, index, commits=commits, files=files)
    return base


def _generate_one(target: Path, index: int, *, commits: int, files: int) -> None:
    if target.exists():
        shutil.rmtree(target)
    run(["git", "init", "-q", "--bare", "-b", "main", target], env=base_env())
    stream = fast_import_stream(index, commits=commits, files=files)
    proc = subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=target,
        input=stream,
        capture_output=True,
        env=base_env(),
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git fast-import failed in {target}: {proc.stderr.decode()[-500:]}")
    run(["git", "gc", "-q"], cwd=target, env=base_env())
    (target / "nestr-bench-complete").write_text("ok\n", encoding="utf-8")


def fast_import_stream(index: int, *, commits: int, files: int) -> bytes:
    """A fast-import stream: one big first commit, then small edits (deterministic)."""
    rng = random.Random(index)
    contents = {f"src/mod{n // 50:02d}/file{n:03d}.txt": _text(rng, 40) for n in range(files)}
    parts: list[bytes] = []
    for number in range(commits):
        if number == 0:
            changed = dict(contents)
        else:
            changed = {}
            for path in rng.sample(sorted(contents), k=rng.randint(1, 3)):
                lines = contents[path].splitlines()
                lines[rng.randrange(len(lines))] = _line(rng)
                contents[path] = "\n".join(lines) + "\n"
                changed[path] = contents[path]
        parts.append(_commit(number, changed))
    parts.append(b"reset refs/tags/v1.0\nfrom refs/heads/main\n\n")
    return b"".join(parts)


def _commit(number: int, changed: dict[str, str]) -> bytes:
    stamp = f"{EPOCH + number * 3600} +0000"
    message = f"change {number}\n".encode()
    out = [
        b"commit refs/heads/main\n",
        f"author Bench <bench@nestr.invalid> {stamp}\n".encode(),
        f"committer Bench <bench@nestr.invalid> {stamp}\n".encode(),
        b"data %d\n" % len(message),
        message,
    ]
    for path, text in changed.items():
        data = text.encode()
        out += [f"M 100644 inline {path}\n".encode(), b"data %d\n" % len(data), data]
    out.append(b"\n")
    return b"".join(out)


def _text(rng: random.Random, lines: int) -> str:
    return "".join(_line(rng) + "\n" for _ in range(lines))


def _line(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9)))


@dataclass(frozen=True)
class Daemon:
    """A running ``git daemon``: clone URLs are ``{url_base}/r00.git``."""

    url_base: str
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[Daemon]:
    """Serve the repositories under ``base`` read-only on 127.0.0.1; stopped on exit."""
    port = _free_port()
    argv = [
        "git",
        "daemon",
        "--reuseaddr",
        "--export-all",
        "--listen=127.0.0.1",
        f"--port={port}",
        "--max-connections=64",
        f"--base-path={base}",
        str(base),
    ]
    # `git daemon` runs `git-daemon` as a child: a session of its own lets the whole group go
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    daemon = Daemon(f"git://127.0.0.1:{port}", process)
    try:
        _wait_ready(daemon)
        yield daemon
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def _wait_ready(daemon: Daemon) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        probe = subprocess.run(
            ["git", "ls-remote", f"{daemon.url_base}/{repo_name(0)}.git"],
            capture_output=True,
            env=base_env(),
            check=False,
        )
        if probe.returncode == 0:
            return
        if daemon.process.poll() is not None:
            raise RuntimeError("git daemon exited at start")
        time.sleep(0.1)
    raise RuntimeError("git daemon did not answer within 15s")
