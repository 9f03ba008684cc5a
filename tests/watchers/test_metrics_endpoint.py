"""`nestr metrics serve` as a real process: the values of a known run and assembly, scraped over
HTTP, valid for promtool, and the same after a restart."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from nestr.config.settings import Settings
from nestr.session import Session
from nestr.testing import GitRepo

from .metrics_helpers import (
    check_metrics,
    running,
    samples,
    scrape,
    scrape_after,
    url_of,
    value,
)

SERVE = ["metrics", "serve", "--listen", "127.0.0.1:0"]


def write_project(tmp_path: Path) -> Path:
    """Two upstream repos and a manifest with a workflow that retries one step and fails
    another (whose dependent is then skipped)."""
    for name in ("api", "web"):
        GitRepo.init(tmp_path / "up" / name, files={"README.md": f"# {name}\n"})
    marker = tmp_path / "tried-once"
    manifest = tmp_path / "project" / "nestr.yaml"
    manifest.parent.mkdir()
    repos = "".join(
        f"  - {{name: {n}, url: {(tmp_path / 'up' / n).as_uri()}, revision: main}}\n"
        for n in ("api", "web")
    )
    steps = f"""\
        known:
          steps:
            - id: flaky
              run: "sh -c 'test -f {marker} || {{ touch {marker}; exit 1; }}'"
              retry: {{attempts: 2, backoff: fixed, initial: 0s}}
            - {{id: broken, needs: [flaky], run: "false"}}
            - {{id: after, needs: [broken], run: "true"}}
        """
    body = textwrap.indent(textwrap.dedent(steps), "  ")
    manifest.write_text(f"version: 1\nrepos:\n{repos}workflows:\n{body}", encoding="utf-8")
    return manifest


def head() -> int:
    state = Path(os.environ["XDG_STATE_HOME"]) / "nestr"
    with Session(Settings(state_dir=state), cwd=Path.cwd()) as session:
        return session.event_head()


@pytest.fixture
def known(tmp_path: Path, nestr: Any) -> int:
    """A warm assembly after a cold one, and a run of `known`; the log's head seq after them."""
    manifest = write_project(tmp_path)
    workspace = tmp_path / "ws"
    for _ in range(2):
        result = nestr("assemble", "-m", str(manifest), "-w", str(workspace))
        assert result.code == 0, result.err
    result = nestr("-C", str(workspace), "run", "-m", str(manifest), "known")
    assert result.code == 1, result.err
    return head()


def test_a_known_run_and_assembly_give_known_values(known: int) -> None:
    """Scraped over HTTP after a cold and a warm assembly of two repos and a run with one
    retried step, one failed and one skipped: every count is what happened, durations are
    observed once each, and no run id or repo name is a label."""
    with running(SERVE, {}, "metrics on ") as lines:
        text = scrape_after(url_of(lines), known)
    found = samples(text)
    assert value(found, "nestr_runs_started_total", workflow="known") == 1
    assert value(found, "nestr_runs_total", workflow="known", status="failed") == 1
    assert value(found, "nestr_run_duration_seconds_count", workflow="known") == 1
    assert value(found, "nestr_steps_total", status="succeeded") == 1
    assert value(found, "nestr_steps_total", status="failed") == 1
    assert value(found, "nestr_steps_total", status="skipped") == 1
    assert value(found, "nestr_step_attempts_total", status="failed") == 2
    assert value(found, "nestr_step_attempts_total", status="succeeded") == 1
    assert value(found, "nestr_step_attempt_duration_seconds_count") == 3
    assert value(found, "nestr_assemblies_total", outcome="ok") == 2
    assert value(found, "nestr_assembly_duration_seconds_count") == 2
    assert value(found, "nestr_assembly_repos_total", status="cloned") == 2
    assert value(found, "nestr_assembly_repos_total", status="unchanged") == 2
    assert value(found, "nestr_assembly_repo_duration_seconds_count") == 4
    assert value(found, "nestr_mirror_fetches_total", result="fetched") >= 2
    assert value(found, "nestr_git_fetch_duration_seconds_count") >= 2
    assert value(found, "nestr_event_seq") == known
    assert sum(v for (name, _), v in found.items() if name == "nestr_events_total") == known
    label_values = {v for _, labels in found for _, v in labels}
    assert not label_values & {"api", "web", "flaky", "broken", "after"}
    assert not [v for v in label_values if re.fullmatch("[0-9a-f]{32}", v)]  # run ids


def test_exposition_passes_promtool(known: int) -> None:
    """`promtool check metrics` reports nothing on the exposition of a known run."""
    with running(SERVE, {}, "metrics on ") as lines:
        text = scrape_after(url_of(lines), known)
    checked = check_metrics(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""


def test_a_restart_replays_the_log_to_the_same_values(known: int, nestr: Any) -> None:
    """Counters are totals over the log: a second endpoint started later shows the same
    samples as the first, and counts what was appended after it started."""
    with running(SERVE, {}, "metrics on ") as lines:
        first = samples(scrape_after(url_of(lines), known))
    with running(SERVE, {}, "metrics on ") as lines:
        url = url_of(lines)
        assert samples(scrape_after(url, known)) == first
        assert nestr("run", "-m", str(Path.cwd().parent / "project" / "nestr.yaml"), "known").code
        again = samples(scrape_after(url, head()))
    assert value(again, "nestr_runs_total", workflow="known", status="failed") == 2


def test_other_paths_are_not_found() -> None:
    """Only /metrics serves the exposition: another path answers 404 (a scrape config typo
    shows as a failed target, not as an empty one)."""
    import urllib.error

    with running(SERVE, {}, "metrics on ") as lines:
        url = url_of(lines)
        assert "# TYPE nestr_runs_total counter" in scrape(url)
        with pytest.raises(urllib.error.HTTPError) as error:
            scrape(url.removesuffix("/metrics") + "/")
    error.value.close()
    assert error.value.code == 404


def test_a_bad_listen_address_is_a_usage_error(nestr: Any) -> None:
    """A `metrics.listen` that is not host:port exits 2 naming the setting and an example."""
    result = nestr("--set", "metrics.listen=9464", "metrics", "serve")
    assert result.code == 2
    assert "metrics.listen: '9464' is not host:port" in result.err
    assert "127.0.0.1:9464" in result.err
