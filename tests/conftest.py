"""Every test runs isolated: own HOME, XDG dirs, git config and working directory."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nestr.testing import isolated_environ

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_TESTDATA = REPO_ROOT.parent / "shared" / "testdata"

# Real-world manifests of other projects live beside the project, never in it: a user's clone has
# none, and the tests that read them skip there (tests/manifest/test_importers_written.py covers
# the same behaviours with manifests the tests write themselves).
needs_shared_testdata = pytest.mark.skipif(
    not (SHARED_TESTDATA / "manifests").is_dir(),
    reason=f"real-world manifests not found at {SHARED_TESTDATA / 'manifests'} "
    "(they are kept beside the project, not in it)",
)


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    root = tmp_path / "_isolated"
    env = isolated_environ(root)
    for key in list(os.environ):
        if key not in env:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    root_logger = logging.getLogger()
    handlers, level = root_logger.handlers[:], root_logger.level
    yield
    root_logger.handlers[:], root_logger.level = handlers, level


@pytest.fixture
def cwd() -> Path:
    """The test's working directory (empty, under tmp_path)."""
    return Path.cwd()


class CliResult:
    """Exit code and captured output of one in-process ``nestr`` call."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out!r}, err={self.err!r})"


@pytest.fixture
def nestr(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the CLI in-process: ``nestr("config", "show")`` → :class:`CliResult`."""
    from nestr.cli.main import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
