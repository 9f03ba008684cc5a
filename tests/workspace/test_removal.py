"""`workspace rm` and `gc` keep every file that exists nowhere else; ignored build output may go."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

from nestr.workspace.removal import files_outside_repos


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory))


def assembled(project: Project, nestr: Any, *extra: str) -> dict[str, Any]:
    manifest = project.manifest(project.spec("api"), project.spec("web", path="apps/web"))
    result = nestr("assemble", "-m", str(manifest.path), "--json", *extra)
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def test_rm_keeps_a_workspace_with_an_untracked_file(project: Project, nestr: Any) -> None:
    """A new file never `git add`-ed is local work: rm refuses (exit 1) and names it."""
    assembled(project, nestr, "-w", str(project.ws))
    feature = project.ws / "apps" / "web" / "feature.py"
    feature.write_text("my new feature, never added\n", encoding="utf-8")
    refused = nestr("workspace", "rm", str(project.ws))
    assert refused.code == 1
    assert "apps/web: untracked files (feature.py)" in refused.err
    assert feature.read_text(encoding="utf-8") == "my new feature, never added\n"
    forced = nestr("workspace", "rm", str(project.ws), "--force")
    assert forced.code == 0
    assert not project.ws.exists()


def test_rm_removes_a_workspace_whose_only_extra_files_are_ignored(
    project: Project, nestr: Any
) -> None:
    """Ignored files (build output) are not local work: the workspace is removed."""
    assembled(project, nestr, "-w", str(project.ws))
    api = project.ws / "api"
    (api / ".git" / "info" / "exclude").write_text("build/\n", encoding="utf-8")
    (api / "build").mkdir()
    (api / "build" / "out.o").write_bytes(b"\0")
    removed = nestr("workspace", "rm", str(project.ws))
    assert removed.code == 0, removed.err
    assert not project.ws.exists()


def test_gc_keeps_an_expired_workspace_with_an_untracked_file(project: Project, nestr: Any) -> None:
    """gc applies the same rule to expired workspaces."""
    data = assembled(project, nestr, "--ephemeral", "--ttl", "0.001s")
    root = Path(data["workspace"])
    (root / "api" / "notes.txt").write_text("draft\n", encoding="utf-8")
    result = nestr("workspace", "gc")
    assert result.code == 0
    assert "api: untracked files (notes.txt)" in result.out
    assert (root / "api" / "notes.txt").is_file()


def test_rm_keeps_files_that_belong_to_no_repo(project: Project, nestr: Any) -> None:
    """A file beside the repos (not in any of them) is the user's too."""
    assembled(project, nestr, "-w", str(project.ws))
    (project.ws / "TODO.md").write_text("remember\n", encoding="utf-8")
    refused = nestr("workspace", "rm", str(project.ws))
    assert refused.code == 1
    assert "TODO.md: not in any repo" in refused.err
    assert (project.ws / "TODO.md").is_file()


def test_files_outside_repos_looks_only_beside_the_repos(tmp_path: Path) -> None:
    """Repos, `.nestr`, directories leading to repos and empty directories are not reported."""
    tmp_path = tmp_path / "ws"
    for rel in ("api/.git", "apps/web/.git", ".nestr/tmp", "apps/empty", "apps/web/x"):
        (tmp_path / rel).mkdir(parents=True)
    (tmp_path / "apps" / "notes.txt").write_text("n\n", encoding="utf-8")
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "f").write_text("f\n", encoding="utf-8")
    assert files_outside_repos(tmp_path, ["api", "apps/web"]) == ["apps/notes.txt", "loose"]
