"""Through `--server`: `runs failed-steps`, `runs retry`, `runs logs` (and `--follow`),
`workspace list` and `workspace rm` print and exit as they do on the server's machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nestr.demo.product import SampleProduct

from .conftest import GUARD, Serving, write_project

Nestr = Any  # the in-process CLI fixture of tests/conftest.py
WORKFLOWS = """
version: 1
repos: []
workflows:
  deploy:
    steps:
      - {id: build, run: "echo built"}
      - id: push
        needs: [build]
        shell: true
        run: "echo pushing; test -f fixed || { echo refused >&2; exit 3; }"
      - {id: notify, needs: [push], run: "echo notified"}
  slow:
    steps:
      - id: wait
        shell: true
        run: "echo first; while [ ! -f go ]; do sleep 0.02; done; echo second"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory whose nestr.yaml has a workflow failing until a file exists, and one that
    waits for a file."""
    return write_project(tmp_path, WORKFLOWS)


def both(nestr: Nestr, here: Path, served: Serving, *args: str) -> tuple[Any, Any]:
    """``args`` run in ``here`` and through the server."""
    return nestr("-C", str(here), *args), nestr("--server", served.address, *args)


def failed_run(nestr: Nestr, project: Path) -> str:
    """The id of a run of ``deploy`` whose step ``push`` failed (run here)."""
    assert nestr("-C", str(project), "run", "deploy").code == 1
    return str(nestr("-C", str(project), "runs", "list").out.split()[0])


def test_failed_steps_and_logs_print_the_same(nestr: Nestr, project: Path, served: Serving) -> None:
    """The dead-letter list (text and --json) and a run's logs (all, one step, and --follow of
    an ended run) read the same through the server."""
    run = failed_run(nestr, project)
    for args in (
        ["runs", "failed-steps"],
        ["runs", "failed-steps", run[:6], "--json"],
        ["runs", "logs", run],
        ["runs", "logs", run[:6], "push"],
        ["runs", "logs", run, "push", "--follow"],
    ):
        here, there = both(nestr, project, served, *args)
        assert (there.code, there.out) == (here.code, here.out), args
    assert "push" in nestr("runs", "failed-steps").out
    assert "refused" in nestr("--server", served.address, "runs", "logs", run, "push").out
    here, missing = both(nestr, project, served, "runs", "logs", run, "pus")
    assert (missing.code, missing.err) == (here.code, here.err)
    assert missing.code == 2
    assert f"run {run} has no step 'pus'" in missing.err
    assert "hint: did you mean 'push'?" in missing.err


def test_retry_runs_the_failed_step_again_on_the_server(
    nestr: Nestr, project: Path, served: Serving
) -> None:
    """`runs retry RUN STEP --server` re-drives the failed step and what it held back on the
    server, prints the run's summary and exits 0; the dead-letter list is then empty."""
    run = failed_run(nestr, project)
    (project / "fixed").touch()
    retried = nestr("--server", served.address, "runs", "retry", run[:8], "push")
    assert retried.code == 0, retried.err
    assert "push" in retried.out
    assert "notify" in retried.out
    shown = json.loads(nestr("runs", "show", run, "--json").out)
    assert shown["status"] == "succeeded"
    assert {s["key"]: s["status"] for s in shown["steps"]} == {
        "build": "succeeded",
        "push": "succeeded",
        "notify": "succeeded",
    }
    assert nestr("--server", served.address, "runs", "failed-steps").out == ""


def test_logs_follow_prints_a_live_run_until_it_ends(
    nestr: Nestr, project: Path, served: Serving
) -> None:
    """`runs logs RUN --follow --server` of a running run prints what its step printed so far
    and what it prints next, and exits 0 when the run ends."""
    cli = [sys.executable, "-m", "nestr", "--server", served.address]
    started = subprocess.Popen(
        [*cli, "run", "slow"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    follower = None
    try:
        run = _first_run(nestr)
        follower = subprocess.Popen(
            [*cli, "runs", "logs", run, "--follow"],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        (project / "go").touch()
        out, err = follower.communicate(timeout=GUARD)
        assert started.wait(timeout=GUARD) == 0
    finally:
        for proc in (started, follower):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert follower.returncode == 0, err
    assert out.splitlines() == ["first", "second"]


def _first_run(nestr: Nestr) -> str:
    """The id of the first run recorded, once there is one."""
    deadline = time.monotonic() + GUARD
    while not (listed := json.loads(nestr("runs", "list", "--json").out)):
        assert time.monotonic() < deadline, "the run was never recorded"
        time.sleep(0.02)
    return str(listed[0]["id"])


def test_workspace_list_and_rm_through_the_server(
    nestr: Nestr, product: SampleProduct, server: Serving, tmp_path: Path
) -> None:
    """`workspace list` (text and --json) is the same; `workspace rm` of a workspace holding
    local work is refused with the reasons and exit 1 as here, then removes it with --force."""
    root = product.manifest.parent
    for args in (["workspace", "list"], ["workspace", "list", "--json"]):
        here, there = both(nestr, root, server, *args)
        assert (there.code, there.out) == (here.code, here.out)
    listed = json.loads(here.out)["workspaces"]
    assert len(listed) == 1
    assert listed[0]["exists"]
    workspace = Path(listed[0]["root"])
    repo = next(p for p in workspace.iterdir() if (p / ".git").exists())
    (repo / "local-edit.txt").write_text("mine\n", encoding="utf-8")
    os.chdir(tmp_path)  # `-C` moved this process into the workspace the server removes
    kept = nestr("--server", server.address, "workspace", "rm", listed[0]["id"])
    assert kept.code == 1
    assert f"kept {workspace}: it holds local work" in kept.err
    assert "hint: push or commit it, or pass" in kept.err
    assert (repo / "local-edit.txt").exists()
    gone = nestr("--server", server.address, "workspace", "rm", listed[0]["id"], "--force")
    assert (gone.code, gone.out) == (0, f"removed {workspace}\n")
    assert not workspace.exists()
    after = nestr("--server", server.address, "workspace", "list")
    assert (after.code, after.out) == (0, "no workspaces registered\n"), after.err
