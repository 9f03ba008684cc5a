"""The git processes of an assembly end with it, even when nestr is killed by SIGKILL: no git
goes on writing into a workspace whose lock died with nestr."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import time
from pathlib import Path

import pytest
from tests.workspace.assembly_helpers import (
    Project,
    make_project,
    nestr_process,
    upstream_templates,
)

from nestr.testing import process_running


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory), ("api", "web"))


def _blocking_git(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a `git` on PATH that, for a clone, fetch or checkout, records its pid in a file and
    becomes `sleep 300` (a git that would go on for minutes); other calls run git."""
    real = shutil.which("git")
    assert real is not None
    bindir = tmp / "bin"
    bindir.mkdir()
    pids = tmp / "git.pids"
    script = bindir / "git"
    script.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" clone "*|*" fetch "*|*" checkout "*)\n'
        f'  echo $$ >> "{pids}"; exec sleep 300;;\n'
        "esac\n"
        f'exec "{real}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return pids


def _poll(condition, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_git_children_of_a_killed_assemble_die_with_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL of `nestr assemble` while its gits run ends them (each was in a session of its
    own, out of reach of a signal to nestr's process group)."""
    pids_file = _blocking_git(project.tmp, monkeypatch)
    manifest = project.manifest(project.spec("api"), project.spec("web"))
    process = nestr_process(
        "assemble", "-m", str(manifest.path), "-w", str(project.ws), "-j", "2", cwd=project.tmp
    )
    try:
        _poll(lambda: pids_file.exists() and bool(pids_file.read_text().split()), "a git")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.stderr is not None
        process.stderr.close()
    pids = [int(p) for p in pids_file.read_text().split()]
    _poll(lambda: not any(process_running(pid) for pid in pids), "the gits to end")
