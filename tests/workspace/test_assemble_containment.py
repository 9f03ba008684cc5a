"""Assembly never follows a symlink out of the workspace: such repos are refused, untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

from nestr.testing import git
from nestr.workspace.containment import first_symlink, outside_refusal


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory))


def test_symlinked_directory_on_the_way_is_refused_and_nothing_lands_outside(
    project: Project,
) -> None:
    """`ws/apps -> /outside` with a repo at apps/web: web is refused, /outside stays empty."""
    outside = project.tmp / "outside"
    outside.mkdir()
    project.ws.mkdir()
    (project.ws / "apps").symlink_to(outside)
    manifest = project.manifest(project.spec("api"), project.spec("web", path="apps/web"))
    result = project.assemble(manifest)
    status = {r.name: r for r in result.repos}
    assert status["api"].status == "cloned"
    assert status["web"].status == "refused"
    assert f"{project.ws / 'apps'} is a symlink to {outside}" in (status["web"].message or "")
    assert "real directory" in (status["web"].hint or "")
    assert list(outside.iterdir()) == []
    assert result.exit_code == 1


@pytest.mark.parametrize("force", [False, True])
def test_symlinked_repo_outside_is_neither_moved_nor_stashed(project: Project, force: bool) -> None:
    """`ws/api -> a dirty repo outside`: refused even with --force; its work stays where it is."""
    outrepo = project.tmp / "outrepo"
    git(project.tmp, "clone", "-q", project.upstreams["api"].url, str(outrepo))
    head = git(outrepo, "rev-parse", "HEAD")
    (outrepo / "a.txt").write_text("work outside the workspace\n", encoding="utf-8")
    project.ws.mkdir()
    (project.ws / "api").symlink_to(outrepo)
    manifest = project.manifest(project.spec("api", "v1"))
    result = project.assemble(manifest, force=force)
    assert result.repos[0].status == "refused"
    assert "is a symlink to" in (result.repos[0].message or "")
    assert (outrepo / "a.txt").read_text(encoding="utf-8") == "work outside the workspace\n"
    assert git(outrepo, "stash", "list") == ""
    assert git(outrepo, "rev-parse", "HEAD") == head


def test_symlinked_git_dir_is_refused(project: Project) -> None:
    """A repo whose `.git` is a symlink would let git write elsewhere: refused as well."""
    manifest = project.manifest(project.spec("api"))
    assert project.assemble(manifest).ok
    real = project.tmp / "real-git"
    (project.ws / "api" / ".git").rename(real)
    (project.ws / "api" / ".git").symlink_to(real)
    result = project.assemble(project.manifest(project.spec("api", "v1")))
    assert result.repos[0].status == "refused"
    assert "api/.git is a symlink" in (result.repos[0].message or "")


def test_first_symlink_stops_at_missing_components(tmp_path: Path) -> None:
    """Only what exists is checked; a link below the root is found wherever it is."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert first_symlink(tmp_path, "a/b/c/d") is None
    (tmp_path / "a" / "b" / "c").symlink_to(tmp_path / "a")
    assert first_symlink(tmp_path, "a/b/c/d") == tmp_path / "a" / "b" / "c"
    assert first_symlink(tmp_path, "a/x") is None


def test_path_that_skipped_the_manifest_rules_is_refused(project: Project) -> None:
    """A hand-built (or cached) spec with a path into `.git` is refused before any git runs."""
    manifest = project.manifest(project.spec("api"), project.spec("web", path="api/.git/hooks"))
    result = project.assemble(manifest)
    status = {r.name: r for r in result.repos}
    assert status["api"].status == "cloned"
    assert status["web"].status == "refused"
    assert "'.git'" in (status["web"].message or "")
    assert not (project.ws / "api" / ".git" / "hooks" / "README.md").exists()


def test_outside_refusal_of_paths_in_odd_shapes(tmp_path: Path) -> None:
    """A path not in normal form is refused; a file on the way ends the walk (git fails there)."""
    assert outside_refusal(tmp_path, "a//b") is not None
    (tmp_path / "a").write_text("", encoding="utf-8")
    assert outside_refusal(tmp_path, "a/b") is None
