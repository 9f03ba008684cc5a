"""The protocol is language neutral: the Node plugin of examples/plugins/node-echo/ passes the
conformance check and runs in a workflow like a Python one (skipped without node/npm)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.server.peers import npm_installed

ROOT = Path(__file__).resolve().parents[3]
NODE_ECHO = ROOT / "examples" / "plugins" / "node-echo"


@pytest.fixture
def node_modules(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example's npm packages (``npm ci`` from its lock, cached), on ``NODE_PATH``."""
    lock = (NODE_ECHO / "package-lock.json").read_bytes()

    def prepare(folder: Path) -> list[str]:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(NODE_ECHO / name, folder / name)
        return ["ci", "--no-audit", "--no-fund"]

    modules = npm_installed("node-plugin", lock, prepare) / "node_modules"
    monkeypatch.setenv("NODE_PATH", str(modules))
    return modules


@pytest.mark.usefixtures("node_modules")
def test_the_node_plugin_conforms(nestr: Any) -> None:
    """`nestr plugin check` passes the Node plugin: handshake, secret, health, Describe,
    Validate, Execute and Cancel mid-execute, shutdown."""
    done = nestr(
        "plugin", "check", "node", str(NODE_ECHO / "plugin.js"),
        "--with", '{"text": "hi"}', "--slow", "node-echo.wait", "--json",
    )  # fmt: skip
    report = json.loads(done.out)
    assert done.code == 0, report
    assert "cancel mid-execute" in {f["name"] for f in report["findings"]}


def test_the_node_plugin_runs_in_a_workflow(
    nestr: Any, node_modules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workflow step `uses: node-echo.say` runs in the Node plugin found on PATH: its output
    feeds the next step and its stderr is in the step log; a bad with: is located."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "nestr-plugin-node-echo"
    exe.write_text(f'#!/bin/sh\nexec node {NODE_ECHO / "plugin.js"} "$@"\n', encoding="utf-8")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    (project / "nestr.yaml").write_text(
        "version: 1\nrepos: []\nworkflows:\n  hello:\n    steps:\n"
        "      - {id: a, uses: node-echo.say, with: {text: from node}}\n"
        "      - {id: b, needs: [a], run: 'echo got ${{ steps.a.outputs.said }}'}\n"
        "  bad:\n    steps:\n      - {id: a, uses: node-echo.say, with: {times: 2}}\n",
        encoding="utf-8",
    )
    assert nestr("run", "hello").code == 0
    run = json.loads(nestr("runs", "list", "--json").out)[0]["id"]
    assert "got from node" in nestr("runs", "logs", run, "b").out
    log = nestr("runs", "logs", run, "a").out
    assert "from node" in log
    assert "node-echo said from node" in log
    bad = nestr("run", "bad")
    assert bad.code == 2
    assert "nestr.yaml:10:44: workflows.bad.steps[0].with: node-echo.say:" in bad.err
    assert "`text` is required" in bad.err
