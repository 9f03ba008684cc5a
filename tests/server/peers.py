"""Peer clients in other languages for the server tests: a real ``nestr serve`` process, and npm
packages installed once into a cache folder keyed by what they install."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import GUARD
from .processes import nestr_serve

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = ROOT / "examples" / "clients" / "node"
BUF = "@bufbuild/buf@1.75.0"
INSTALL_TIMEOUT = 600  # seconds: a first install downloads from the registry
# Read at import, before each test gets its own HOME: the installs outlive the test run, and npm
# keeps the user's configuration (registry, proxy) and download cache.
CACHE = Path(
    os.environ.get("NESTR_TEST_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nestr-tests"
)
NPM_ENV = {
    "npm_config_userconfig": os.environ.get("npm_config_userconfig")  # noqa: SIM112
    or str(Path.home() / ".npmrc"),
    "npm_config_cache": os.environ.get("npm_config_cache")  # noqa: SIM112
    or str(Path.home() / ".npm"),
}


def npm(*args: str, cwd: Path | None = None, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run npm with the user's npm configuration."""
    return subprocess.run(
        ["npm", *args],
        cwd=cwd,
        env={**os.environ, **NPM_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def need_node(what: str) -> None:
    """Skip the calling test when ``node`` or ``npm`` is not on PATH."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not on PATH: needed to install {what} from npm")


def registry_reachable() -> bool:
    """Whether ``npm ping`` reaches the configured registry."""
    try:
        done = npm("ping", timeout=60)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def npm_installed(kind: str, key: bytes, prepare: Callable[[Path], list[str]]) -> Path:
    """The folder ``CACHE/KIND-HASH`` where ``npm ARGS`` (``prepare(folder)`` returns the args)
    installed something: run once per ``key`` (built in a staging folder, renamed when complete, so
    an interrupted install is never reused). Skips when the registry cannot be reached."""
    need_node(kind)
    target = CACHE / f"{kind}-{hashlib.sha256(key).hexdigest()[:16]}"
    if (target / ".installed").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{kind}-"))
    args = prepare(staging)
    done = npm(*args, cwd=staging, timeout=INSTALL_TIMEOUT)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        command = " ".join(["npm", *args])
        if not registry_reachable():
            pytest.skip(f"the npm registry is unreachable (`npm ping` failed): cannot `{command}`")
        pytest.fail(f"`{command}` failed:\n{done.stdout}{done.stderr}")
    (staging / ".installed").touch()
    try:
        staging.rename(target)
    except OSError:  # a concurrent run installed it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def node_client_modules() -> Path:
    """``node_modules`` of the Node example client, installed with ``npm ci`` from its lock file."""
    lock = (NODE_CLIENT / "package-lock.json").read_bytes()

    def prepare(folder: Path) -> list[str]:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(NODE_CLIENT / name, folder / name)
        return ["ci", "--no-audit", "--no-fund"]

    return npm_installed("node-client", lock, prepare) / "node_modules"


def buf_binary() -> str:
    """``buf`` from PATH, else from npm's ``@bufbuild/buf`` installed into the cache."""
    found = shutil.which("buf")
    if found:
        return found

    def prepare(folder: Path) -> list[str]:
        return ["install", "--no-audit", "--no-fund", "--prefix", str(folder), BUF]

    return str(npm_installed("buf", BUF.encode(), prepare) / "node_modules" / ".bin" / "buf")


@contextmanager
def nestr_server(state: Path, token: str) -> Iterator[str]:
    """A ``nestr serve`` process on a free port of 127.0.0.1 over ``state``, requiring
    ``token``; yields its address and stops it (SIGTERM) afterwards. Its log goes to a file
    beside ``state`` (a pipe nobody reads could fill and stall it)."""
    with (state.parent / f"{state.name}.serve.log").open("w") as log:
        token_env = {"NESTR_SERVER__TOKEN": token}
        with nestr_serve(state, env=token_env, stderr=log) as (server, address):
            yield address
            server.terminate()
            server.communicate(timeout=GUARD)
            assert server.returncode == 0
