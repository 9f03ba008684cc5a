"""foreach: one instance per selected repo, per-repo outputs, and git steps in real repos."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nestr.testing import GitRepo, git
from nestr.workflow.plan import build_plan
from nestr.workspace.record import Workspace, write_record

REPOS = """
repos:
  - {name: api, url: file:///nowhere/api, groups: [backend]}
  - {name: worker, url: file:///nowhere/worker, groups: [backend]}
  - {name: web, url: file:///nowhere/web, groups: [frontend]}
"""

RELEASE = """
release:
  inputs:
    version: {default: "1.0.0"}
  steps:
    - id: test
      foreach: {groups: [backend]}
      shell: true
      run: echo "name=${{ repo.name }}" >> "$NESTR_OUTPUT"; basename "$PWD" > seen
    - id: tag
      needs: [test]
      foreach: {groups: [backend]}
      uses: git.tag
      with: {name: "v${{ inputs.version }}-${{ steps.test.outputs.name }}"}
    - id: report
      needs: [tag]
      run: >-
        sh -c 'echo "$1 $2" > report.txt' sh
        ${{ steps.tag.outputs.api.tag }} ${{ steps.tag.outputs.worker.tag }}
"""


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("templates") / "repo"
    GitRepo.init(path, files={"README.md": "# template\n"})
    return path


@pytest.fixture
def workspace(project, template_repo: Path) -> Path:
    root = project.root / "ws"
    for name in ("api", "worker", "web"):
        shutil.copytree(template_repo, root / name)
    write_record(
        Workspace(
            root=root, manifest_path=project.manifest_path, id="ws1", created=datetime.now(UTC)
        )
    )
    return root


def test_foreach_fans_out_and_tags_each_selected_repo(project, workspace: Path, status_of) -> None:
    """Each backend repo gets its own instance (`test[api]`), runs in its directory, passes its
    own outputs to its own `tag` instance, and a later single step sees outputs by repo."""
    project.write(RELEASE, REPOS)
    result = project.run("release", inputs={"version": "2.0.0"}, workspace_root=workspace)
    assert status_of(result) == {
        "test[api]": "succeeded",
        "test[worker]": "succeeded",
        "tag[api]": "succeeded",
        "tag[worker]": "succeeded",
        "report": "succeeded",
    }
    assert (workspace / "api" / "seen").read_text() == "api\n"
    assert git(workspace / "api", "tag", "--list") == "v2.0.0-api"
    assert git(workspace / "worker", "tag", "--list") == "v2.0.0-worker"
    assert git(workspace / "web", "tag", "--list") == ""
    assert (workspace / "report.txt").read_text() == "v2.0.0-api v2.0.0-worker\n"


def test_same_repo_chain_needs_only_its_own_upstream_instance(project) -> None:
    """`tag[api]` needs `test[api]` only; a single step needs every instance."""
    from nestr.manifest.loader import load_manifest
    from nestr.workflow.loading import load_workflow

    project.write(RELEASE, REPOS)
    manifest = load_manifest(project.manifest_path)
    workflow = load_workflow(manifest, "release")
    backend = [r for r in manifest.repos if "backend" in r.groups]
    plan = build_plan(workflow, {"test": backend, "tag": backend})
    assert plan.instance("tag[api]").needs == ("test[api]",)
    assert plan.instance("report").needs == ("tag[api]", "tag[worker]")


def test_foreach_without_workspace_is_a_usage_error(project, nestr) -> None:
    """A workflow that fans out over repos needs a workspace: exit 2 with a hint."""
    project.write(RELEASE, REPOS)
    result = nestr("run", "release", "-m", str(project.manifest_path))
    assert result.code == 2
    assert "needs a workspace" in result.err


def test_foreach_unknown_repo_name_is_a_definition_error(project, workspace: Path) -> None:
    """foreach naming a repo that the manifest lacks is refused before running."""
    from nestr.errors import WorkflowDefinitionError

    project.write(
        """
        wf:
          steps:
            - {id: a, foreach: {names: [nope]}, run: "true"}
        """,
        REPOS,
    )
    with pytest.raises(WorkflowDefinitionError, match="unknown repo"):
        project.run("wf", workspace_root=workspace)


def test_run_inside_a_workspace_finds_it(project, workspace: Path, nestr, monkeypatch) -> None:
    """`nestr run` started inside a workspace uses it (and the manifest it records)."""
    project.write(RELEASE, REPOS)
    monkeypatch.chdir(workspace / "api")
    result = nestr("run", "release", "--var", "version=3.1.0")
    assert result.code == 0, result
    assert git(workspace / "worker", "tag", "--list") == "v3.1.0-worker"


def test_log_lines_of_a_step_carry_run_step_and_repo(project, workspace: Path) -> None:
    """A git call made by a foreach step logs the run id, the step instance and its repo."""
    import io
    import json

    from nestr.observability.logging import configure_logging

    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    project.write(RELEASE, REPOS)
    result = project.run("release", inputs={"version": "3.0.0"}, workspace_root=workspace)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    tags = [line for line in lines if line["event"] == "git" and " tag " in line["argv"]]
    assert {(line["step"], line["repo"]) for line in tags} == {
        ("tag[api]", "api"),
        ("tag[worker]", "worker"),
    }
    assert {line["run_id"] for line in tags} == {result.run_id}


def test_per_repo_step_refuses_a_repo_reached_through_a_symlink(
    project, workspace: Path, status_of, tmp_path: Path
) -> None:
    """A repo directory that is a symlink (here to a checkout outside the workspace) fails its
    instance with the link named; nothing runs there, the other repos run as usual."""
    outside = tmp_path / "outside-worker"
    shutil.move(workspace / "worker", outside)
    (workspace / "worker").symlink_to(outside)
    project.write(
        """
        wf:
          steps:
            - {id: touch, foreach: {groups: [backend]}, run: "touch ran-here"}
        """,
        REPOS,
    )
    result = project.run("wf", workspace_root=workspace)
    assert status_of(result) == {"touch[api]": "succeeded", "touch[worker]": "failed"}
    failed = next(s for s in result.steps if s.key == "touch[worker]")
    assert "symlink" in (failed.error or "")
    assert not (outside / "ran-here").exists()
    assert (workspace / "api" / "ran-here").exists()
