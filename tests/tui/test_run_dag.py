"""The Run screen draws a run's DAG — layers, one row per repo of a fan-out step, retry
countdowns — the same from this machine's store and over a real `nestr serve`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tests.client.conftest import TOKEN, serve
from tests.tui.helpers import GUARD, Project
from tests.tui.test_remote import settings
from tests.tui.test_runs_screen import cells

from nestr.testing import GitRepo
from nestr.tui.app import NestrApp
from nestr.tui.screens.run import RunScreen
from nestr.tui.source import RemoteSource, Source
from nestr.workspace.record import Workspace, write_record

FANOUT = """\
version: 1
repos:
  - {name: api, url: file:///nowhere/api}
  - {name: web, url: file:///nowhere/web}
workflows:
  fanout:
    steps:
      - id: prepare
        run: echo ready
      - id: check
        needs: [prepare]
        foreach: {all: true}
        shell: true
        run: test -f tried || { touch tried; exit 1; }; echo checked
        retry: {attempts: 2, backoff: fixed, initial: 4s, jitter: false}
"""
CHECKS = ("check[api]", "check[web]")


def workspace(project: Project) -> None:
    """The project as a workspace of two repos (the manifest's directory is its root)."""
    (project.root / "nestr.yaml").write_text(FANOUT, encoding="utf-8")
    for name in ("api", "web"):
        GitRepo.init(project.root / name, files={"README.md": f"# {name}\n"})
    manifest = project.root / "nestr.yaml"
    write_record(Workspace(project.root, manifest, "ws1", datetime.now(UTC)))


def waiting_rows(project: Project, source: Source) -> dict[str, list[str]]:
    """The Run screen's rows of a fanout run, once both check instances wait for a retry."""
    proc = project.start("run", "fanout")
    try:
        project.wait_for("fanout", "running")
        app = NestrApp(source)

        async def scenario() -> dict[str, list[str]]:
            async with app.run_test(size=(140, 40)) as pilot:
                await pilot.pause(0.5)
                await pilot.press("enter")
                for _ in range(int(GUARD / 0.1)):
                    await pilot.pause(0.1)
                    rows = cells(app) if isinstance(app.screen, RunScreen) else {}
                    shown = [rows.get(key, []) for key in CHECKS]
                    if all(row[3:4] == ["retrying"] and row[6] != "-" for row in shown):
                        return rows
                pytest.fail(f"no retry countdown shown: {cells(app)}")

        rows = asyncio.run(scenario())
        assert proc.wait(timeout=GUARD) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return rows


def assert_dag(rows: dict[str, list[str]]) -> None:
    """Layer 0 then 1, one row per repo of the fan-out, each counting down its 4 s wait."""
    assert rows["prepare"][:4] == ["0", "prepare", "-", "succeeded"]
    assert rows["check[api]"][:5] == ["1", "check[api]", "api", "retrying", "1"]
    assert rows["check[web]"][:5] == ["1", "check[web]", "web", "retrying", "1"]
    for key in CHECKS:
        assert 0 < float(rows[key][6].rstrip("s")) <= 4.0


def test_local_run_screen_draws_layers_fan_out_and_retry_countdowns(project: Project) -> None:
    """From the local store, a run whose fan-out step waits for its retries shows the step
    layers, a row per repo and each instance's countdown."""
    workspace(project)
    assert_dag(waiting_rows(project, project.source()))


def test_remote_run_screen_draws_the_dag_as_the_local_one(project: Project) -> None:
    """Over a real server on 127.0.0.1 the same run shows the same layers, per-repo rows and
    countdowns: the server sends the run's DAG with GetRun (without it, layers and countdowns
    would be `-`)."""
    workspace(project)
    server = serve(project.root, NESTR_SERVER__TOKEN=TOKEN)
    try:
        source = RemoteSource(settings(TOKEN), server.address, project.root)
        rows = waiting_rows(project, source)
    finally:
        server.stop()
    assert_dag(rows)
