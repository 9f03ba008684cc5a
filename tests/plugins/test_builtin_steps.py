"""Conformance of every built-in step through `nestr.testing.run_step` (real processes, real
git): success, failure, timeout and cancellation."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from nestr.manifest.model import RepoSpec
from nestr.testing import GitRepo, git, run_step, run_step_sync
from nestr.workflow.registry import StepRegistry


def test_every_builtin_is_registered_through_the_entry_point_group() -> None:
    """The `nestr.steps` entry points that nestr itself installs are exactly the typed
    built-in table, and each loads the same factory the table names."""
    from importlib.metadata import entry_points

    from nestr.plugins.builtin.catalog import BUILTIN_STEPS
    from nestr.workflow.protocols import Step

    ours = {ep.name for ep in entry_points(group="nestr.steps") if ep.module.startswith("nestr.")}
    assert ours == set(BUILTIN_STEPS)
    registry = StepRegistry()
    for name, factory in BUILTIN_STEPS.items():
        assert registry.get(name) is factory
        assert isinstance(factory(), Step)


def test_shell_success_output_and_outputs(tmp_path: Path) -> None:
    """shell runs argv, captures stdout/stderr and reads $NESTR_OUTPUT."""
    result = run_step_sync(
        "shell",
        cwd=tmp_path,
        with_={"script": 'echo out; echo err >&2; echo k=v >> "$NESTR_OUTPUT"'},
    )
    assert (result.status, result.stdout, result.stderr) == ("succeeded", "out\n", "err\n")
    assert result.outputs == {"k": "v"}


def test_shell_failure_reports_exit_code(tmp_path: Path) -> None:
    """A non-zero exit fails the step with that exit code."""
    result = run_step_sync("shell", cwd=tmp_path, with_={"argv": ["sh", "-c", "exit 7"]})
    assert (result.status, result.returncode) == ("failed", 7)
    assert "exited 7" in (result.error or "")


def test_shell_missing_program_fails_cleanly(tmp_path: Path) -> None:
    """A program that does not exist is a step failure, not a crash."""
    result = run_step_sync("shell", cwd=tmp_path, with_={"command": "no-such-program-xyz"})
    assert result.status == "failed"
    assert "no-such-program-xyz" in (result.error or "")


def test_shell_timeout_and_cancel(tmp_path: Path) -> None:
    """A step past its timeout ends `timed_out`; a cancelled one ends `cancelled`; neither
    leaves its process behind."""
    timed = run_step_sync(
        "shell", cwd=tmp_path, with_={"script": "echo $$ > t.pid; exec sleep 30"}, timeout=0.3
    )
    assert timed.status == "timed_out"

    async def cancelled() -> str:
        cancel = asyncio.Event()
        task = asyncio.create_task(
            run_step(
                "shell",
                cwd=tmp_path,
                with_={"script": "echo $$ > c.pid; exec sleep 30"},
                cancel=cancel,
            )
        )
        # the step's shell writes the file: there is no event to wait on
        while not (tmp_path / "c.pid").exists() or not (tmp_path / "c.pid").read_text():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        cancel.set()
        return (await task).status

    assert asyncio.run(cancelled()) == "cancelled"
    for name in ("t.pid", "c.pid"):
        assert not Path(f"/proc/{(tmp_path / name).read_text().strip()}").exists()


def test_noop_returns_its_outputs(tmp_path: Path) -> None:
    """noop succeeds and turns with.outputs into text outputs."""
    result = run_step_sync("noop", cwd=tmp_path, with_={"outputs": {"a": 1, "b": True}})
    assert (result.status, result.outputs) == ("succeeded", {"a": "1", "b": "true"})


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("builtin-templates") / "origin"
    GitRepo.init(path, files={"README.md": "# origin\n"})
    return path


@pytest.fixture
def clone(tmp_path: Path, template: Path) -> tuple[Path, Path]:
    """A pushable origin and a clone of it."""
    origin = tmp_path / "origin"
    shutil.copytree(template, origin)
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    return origin, work


def _spec(path: Path) -> RepoSpec:
    return RepoSpec(name="work", url=str(path), revision="main", path="work")


def test_git_steps_need_a_repo(tmp_path: Path) -> None:
    """A git step without a repo fails with a message about foreach."""
    result = run_step_sync("git.tag", cwd=tmp_path, with_={"name": "v1"})
    assert result.status == "failed"
    assert "foreach" in (result.error or "")


def test_git_branch_commit_tag_push(clone: tuple[Path, Path]) -> None:
    """branch, commit (with and without changes), tag and push act on the repo and report
    their outputs; a failing git command fails the step with git's message."""
    origin, work = clone
    common = {"cwd": work, "repo": _spec(work), "repo_dir": work}
    branch = run_step_sync("git.branch", with_={"name": "feature"}, **common)
    assert branch.status == "succeeded"
    assert git(work, "branch", "--show-current") == "feature"
    nothing = run_step_sync("git.commit", with_={"message": "m"}, **common)
    assert nothing.outputs["changed"] == "false"
    (work / "new.txt").write_text("x\n")
    commit = run_step_sync("git.commit", with_={"message": "add new"}, **common)
    assert commit.outputs["changed"] == "true"
    assert commit.outputs["commit"] == git(work, "rev-parse", "HEAD")
    tag = run_step_sync("git.tag", with_={"name": "v1.0", "message": "release"}, **common)
    assert tag.outputs == {"tag": "v1.0", "commit": commit.outputs["commit"]}
    again = run_step_sync("git.tag", with_={"name": "v1.0"}, **common)
    assert again.status == "failed"
    assert "already exists" in (again.error or "")
    push = run_step_sync("git.push", with_={"tags": True, "set_upstream": True}, **common)
    assert push.status == "succeeded", push
    assert git(origin, "rev-parse", "refs/heads/feature") == commit.outputs["commit"]
    assert git(origin, "tag", "--list") == "v1.0"


def test_workspace_assemble_builds_a_workspace(tmp_path: Path, template: Path) -> None:
    """workspace.assemble clones the manifest's repos into the workspace and reports it."""
    origin = tmp_path / "remote" / "app"
    shutil.copytree(template, origin)
    project = tmp_path / "project"
    project.mkdir()
    manifest = project / "nestr.yaml"
    manifest.write_text(f"version: 1\nrepos:\n  - {{name: app, url: 'file://{origin}'}}\n")
    result = run_step_sync(
        "workspace.assemble",
        cwd=project,
        root=project,
        manifest_path=manifest,
        state_dir=tmp_path / "state",
        with_={"workspace": "ws"},
    )
    assert result.status == "succeeded", result
    assert (project / "ws" / "app" / "README.md").read_text() == "# origin\n"
    assert result.outputs["workspace"] == str(project / "ws")
