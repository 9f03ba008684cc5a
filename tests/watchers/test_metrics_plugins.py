"""Plugin call metrics from a real plugin's run, scraped from a real `nestr metrics serve`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from tests.plugins.hosted.conftest import HERE, install

from nestr.config.settings import Settings
from nestr.session import Session

from .metrics_helpers import check_metrics, running, samples, scrape_after, url_of, value

SERVE = ["metrics", "serve", "--listen", "127.0.0.1:0"]
WORKFLOW = """\
version: 1
repos: []
workflows:
  plugged:
    steps:
      - id: crash
        uses: echo.crash
        retry: {attempts: 2, backoff: fixed, initial: 0s}
      - {id: say, uses: echo.say, needs: [crash], with: {text: hi}}
      - {id: fail, uses: echo.fail, needs: [say]}
"""


def head(state: Path) -> int:
    with Session(Settings(state_dir=state), cwd=Path.cwd()) as session:
        return session.event_head()


@pytest.fixture
def plugged_run(tmp_path: Path, nestr: Any, monkeypatch: pytest.MonkeyPatch) -> int:
    """A run of an SDK plugin's steps (`nestr-plugin-echo` on PATH), one after the other: one
    crashes the plugin on its first attempt and succeeds on its retry, one succeeds, one fails.
    The log's head."""
    exe = install(tmp_path / "bin", "nestr-plugin-echo", HERE / "echo_plugin.py")
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "marks").mkdir()
    monkeypatch.setenv("ECHO_STATE", str(tmp_path / "marks"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "nestr.yaml").write_text(WORKFLOW, encoding="utf-8")
    monkeypatch.chdir(project)
    ran = nestr("run", "plugged")
    assert ran.code == 1, ran
    return head(Path(os.environ["XDG_STATE_HOME"]) / "nestr")


def test_plugin_calls_starts_and_crashes_are_counted(plugged_run: int) -> None:
    """Scraped after the run: each call by its outcome (the crashed attempt as `crashed`, its
    retry as a success), a duration per call, two starts (the first and the restart after the
    crash) with their durations, one crash, one stop; the exposition passes promtool."""
    with running(SERVE, {}, "metrics on ") as lines:
        text = scrape_after(url_of(lines), plugged_run)
    found = samples(text)
    calls = "nestr_plugin_calls_total"
    assert value(found, calls, plugin="echo", outcome="succeeded") == 2
    assert value(found, calls, plugin="echo", outcome="failed") == 1
    assert value(found, calls, plugin="echo", outcome="crashed") == 1
    assert sum(v for (name, _), v in found.items() if name == calls) == 4
    assert value(found, "nestr_plugin_call_duration_seconds_count", plugin="echo") == 4
    assert value(found, "nestr_plugin_call_duration_seconds_sum", plugin="echo") > 0
    assert value(found, "nestr_plugin_starts_total", plugin="echo") == 2
    assert value(found, "nestr_plugin_start_duration_seconds_count", plugin="echo") == 2
    assert value(found, "nestr_plugin_crashes_total", plugin="echo") == 1
    assert value(found, "nestr_events_total", type="nestr.plugin.exited") == 1
    checked = check_metrics(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""
