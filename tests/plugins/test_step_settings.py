"""Built-in steps inside `nestr run` work with the user's settings and report on the run's log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nestr.config.settings import GitSettings, Settings
from nestr.manifest.model import RepoSpec
from nestr.testing import GitRepo, git, process_running, run_step_sync
from nestr.testing.steps import RUN_ID, STEP_KEY
from nestr.workflow.protocols import Outputs, StepContext

WORKFLOW = """\
version: 1
repos:
  - {{name: app, url: '{url}'}}
workflows:
  build:
    steps:
      - id: ws
        uses: workspace.assemble
        with: {{workspace: ws2}}
"""


def test_assemble_step_uses_the_configured_cache_and_the_runs_event_log(
    tmp_path: Path, nestr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `workspace.assemble` step run by `nestr run` keeps its mirror under the configured
    `cache_dir` (none under the default cache) and its assembly events reach the run's
    durable log stamped with the run id and the step key."""
    origin = GitRepo.init(tmp_path / "remote" / "app", files={"README.md": "# app\n"})
    project = tmp_path / "project"
    project.mkdir()
    mycache = tmp_path / "mycache"
    (project / "nestr.config.yaml").write_text(f"cache_dir: {mycache}\n")
    (project / "nestr.yaml").write_text(WORKFLOW.format(url=origin.url))
    monkeypatch.chdir(project)

    ran = nestr("run", "build", "--json")

    assert ran.code == 0, ran
    assert (project / "ws2" / "app" / "README.md").read_text() == "# app\n"
    assert any((mycache / "mirrors").iterdir())
    assert not (Path(os.environ["XDG_CACHE_HOME"]) / "nestr" / "mirrors").exists()
    run_id = json.loads(ran.out)["run_id"]
    listed = nestr("events", "--run", run_id, "--type", "nestr.workspace", "--json")
    events = [json.loads(line) for line in listed.out.splitlines()]
    assert "nestr.workspace.assembly.finished" in {e["type"] for e in events}
    assert {(e["run_id"], e["step"]) for e in events} == {(run_id, "ws")}
    assert "app" in {e["repo"] for e in events}


def test_git_step_gives_up_after_the_configured_git_timeout(tmp_path: Path) -> None:
    """A `git.push` whose remote never answers fails with git's timeout message once the
    settings' `git.timeout` passes (not the 600 s default: the driver's own 60 s limit would
    end it `timed_out` instead), and the hung remote side is killed with it."""
    origin = GitRepo.init(tmp_path / "origin", files={"README.md": "# app\n"})
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin.path), str(work))
    pidfile = tmp_path / "receive-pack.pid"
    hang = tmp_path / "hang-receive-pack"
    # Reads its stdin until EOF, which never comes: git waits for its ref advertisement first.
    hang.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec cat > /dev/null\n")
    hang.chmod(0o755)
    git(work, "config", "remote.origin.receivepack", str(hang))
    spec = RepoSpec(name="work", url=str(origin.path), revision="main", path="work")
    settings = Settings(git=GitSettings(timeout=0.5))

    pushed = run_step_sync(
        "git.push", cwd=work, repo=spec, repo_dir=work, settings=settings, timeout=60
    )

    assert pushed.status == "failed", pushed
    assert "timed out" in (pushed.error or "")
    assert "no answer after 0.5s" in (pushed.error or "")
    assert not process_running(int(pidfile.read_text()))


def test_driver_hands_steps_settings_and_collects_what_they_emit(tmp_path: Path) -> None:
    """`run_step` gives a step the settings passed (defaults otherwise) and returns the events
    it emitted, stamped with the driver's run id, step key and the step's repo."""

    class Reporter:
        async def run(self, ctx: StepContext) -> Outputs | None:
            ctx.emit("acme.cache.checked", {"jobs": ctx.settings.jobs})
            ctx.emit("acme.repo.seen", {}, repo="other", severity="warning")
            return {"cache": str(ctx.settings.cache_dir)}

    spec = RepoSpec(name="api", url="file:///nowhere", revision="main", path="api")
    given = Settings(cache_dir=tmp_path / "c", jobs=3)
    run = run_step_sync(Reporter(), cwd=tmp_path, repo=spec, settings=given)
    default = run_step_sync(Reporter(), cwd=tmp_path)

    assert run.outputs == {"cache": str(tmp_path / "c")}
    assert default.outputs == {"cache": str(Settings().cache_dir)}
    assert [(e.type, e.data, e.repo, e.severity) for e in run.events] == [
        ("acme.cache.checked", {"jobs": 3}, "api", "info"),
        ("acme.repo.seen", {}, "other", "warning"),
    ]
    assert {(e.run_id, e.step) for e in run.events} == {(RUN_ID, STEP_KEY)}
    assert [e.seq for e in run.events] == [1, 2]
