"""Local work is never overwritten; failures stay per repo and say what went wrong."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.workspace.assembly_helpers import Project, free_port, make_project, upstream_templates

from nestr.git.mirror import MirrorCache
from nestr.manifest.model import Manifest
from nestr.testing import git


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory))


@pytest.fixture
def moved(project: Project) -> Manifest:
    """A workspace of api and web assembled, then both upstreams moved ahead."""
    manifest = project.manifest(project.spec("api"), project.spec("web"))
    assert project.assemble(manifest).ok
    project.upstreams["api"].commit({"a.txt": "upstream\n"})
    project.upstreams["web"].commit({"b.txt": "upstream\n"})
    return manifest


def test_dirty_repo_is_left_untouched_and_reported(project: Project, moved: Manifest) -> None:
    """Uncommitted changes block the update of that repo only; the file keeps its content."""
    api = project.repo("api")
    before = api.head()
    api.write({"a.txt": "my edit\n"})
    result = project.assemble(moved)
    status = {r.name: r for r in result.repos}
    assert status["api"].status == "refused"
    assert status["api"].message == "uncommitted changes"
    assert "--stash" in (status["api"].hint or "")
    assert (api.path / "a.txt").read_text() == "my edit\n"
    assert api.head() == before
    assert status["web"].status == "updated"
    assert result.exit_code == 1


def test_dirty_repo_already_at_its_commit_is_unchanged(project: Project, nestr: Any) -> None:
    """A repo with uncommitted changes that needs no move is reported unchanged, with a note
    that the changes were kept, and assemble exits 0; the edit is still there."""
    manifest = project.manifest(project.spec("api"))
    assert project.assemble(manifest).ok
    api = project.repo("api")
    api.write({"a.txt": "my edit\n"})
    result = nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws))
    assert result.code == 0, result.out
    assert "unchanged api" in result.out
    assert "api: unchanged" in result.err
    assert "uncommitted changes kept" in result.err
    assert (api.path / "a.txt").read_text() == "my edit\n"


def test_unpushed_commits_are_left_untouched(project: Project, moved: Manifest) -> None:
    """A local commit not on the upstream blocks the move; the commit stays checked out."""
    api = project.repo("api")
    local = api.commit({"mine.txt": "local\n"})
    result = project.assemble(moved)
    assert result.repos[0].status == "refused"
    assert "not on the upstream" in (result.repos[0].message or "")
    assert api.head() == local
    assert api.current_branch() == "main"


def test_detached_local_commit_is_not_abandoned(project: Project) -> None:
    """A commit made on a detached HEAD blocks moving that repo away from it."""
    manifest = project.manifest(project.spec("web", "v1"))
    project.assemble(manifest)
    web = project.repo("web")
    local = web.commit({"x.txt": "detached work\n"})
    result = project.assemble(project.manifest(project.spec("web", "main")))
    assert result.repos[0].status == "refused"
    assert web.head() == local


def test_stash_reapplies_local_changes(project: Project, moved: Manifest) -> None:
    """With stash, the repo moves and the local edit is back on top, stash list empty."""
    web = project.repo("web")
    web.write({"README.md": "# web, edited\n"})
    result = project.assemble(moved, stash=True)
    assert {r.name: r.status for r in result.repos} == {"api": "updated", "web": "updated"}
    assert web.head() == project.upstreams["web"].head()
    assert (web.path / "README.md").read_text() == "# web, edited\n"
    assert git(web.path, "stash", "list") == ""


def test_stash_conflict_keeps_the_stash(project: Project, moved: Manifest) -> None:
    """A re-apply that conflicts leaves the stash in place and reports a conflict (exit 3)."""
    api = project.repo("api")
    api.write({"a.txt": "my conflicting edit\n"})
    result = project.assemble(moved, stash=True)
    api_result = next(r for r in result.repos if r.name == "api")
    assert api_result.status == "conflict"
    assert api_result.stash is not None
    assert git(api.path, "rev-parse", "refs/stash") == api_result.stash
    assert "my conflicting edit" in git(api.path, "show", "stash@{0}")
    assert result.exit_code == 3


def test_force_moves_and_keeps_changes_in_a_stash(project: Project, moved: Manifest) -> None:
    """With force the repo moves over local work, whose changes are saved in a stash."""
    api = project.repo("api")
    api.commit({"mine.txt": "local\n"})
    api.write({"README.md": "edited\n"})
    result = project.assemble(moved, force=True)
    api_result = next(r for r in result.repos if r.name == "api")
    assert api_result.status == "updated"
    assert api.head() == project.upstreams["api"].head()
    assert "stash" in (api_result.message or "")
    assert "edited" in git(api.path, "show", "stash@{0}")


def test_unknown_revision_names_repo_and_revision(project: Project) -> None:
    """A revision the upstream lacks fails that repo with its name and revision; others finish."""
    manifest = project.manifest(project.spec("api", "no-such-branch"), project.spec("web"))
    result = project.assemble(manifest)
    api, web = result.repos
    assert api.status == "failed"
    assert "'no-such-branch'" in (api.message or "")
    assert project.upstreams["api"].url in (api.message or "")
    assert web.status == "cloned"
    assert not (project.ws / "api").exists()


def test_unreachable_url_fails_that_repo_only(project: Project) -> None:
    """A URL nobody answers (connection refused) is retried, then fails clearly; others finish."""
    dead = f"git://127.0.0.1:{free_port()}/nothing.git"
    spec = project.spec("web")
    manifest = project.manifest(project.spec("api"), type(spec)("gone", dead, "main", "gone"))
    result = project.assemble(manifest)
    api, gone = result.repos
    assert api.status == "cloned"
    assert gone.status == "failed"
    assert "Connection refused" in (gone.message or "") or "unable to connect" in (
        gone.message or ""
    )
    assert not (project.ws / "gone").exists()


def test_path_occupied_by_a_plain_directory_is_refused(project: Project) -> None:
    """A non-repo directory at a repo's path is never overwritten."""
    (project.ws / "api").mkdir(parents=True)
    (project.ws / "api" / "notes.txt").write_text("keep me\n")
    result = project.assemble(project.manifest(project.spec("api")))
    assert result.repos[0].status == "refused"
    assert (project.ws / "api" / "notes.txt").read_text() == "keep me\n"


def test_broken_mirror_is_rebuilt(project: Project) -> None:
    """A mirror whose objects were lost is detected, rebuilt, and the assembly succeeds."""
    manifest = project.manifest(project.spec("api"))
    project.assemble(manifest)
    [mirror] = project.cache_dir.glob("mirrors/api-*.git")
    shutil.rmtree(mirror / "objects")
    shutil.rmtree(project.ws)
    result = project.assemble(manifest)
    assert result.ok
    git(mirror, "fsck", "--no-progress")
    assert project.repo("api").head() == project.upstreams["api"].head()


def test_mirror_with_missing_objects_is_rebuilt_on_use(project: Project) -> None:
    """A mirror that looks whole but lacks objects is rebuilt when a clone from it fails."""
    manifest = project.manifest(project.spec("api"))
    project.assemble(manifest)
    [mirror] = project.cache_dir.glob("mirrors/api-*.git")
    for pack in (mirror / "objects" / "pack").glob("*"):
        pack.unlink()
    for loose in (mirror / "objects").glob("??/*"):
        loose.unlink()
    shutil.rmtree(project.ws)
    result = project.assemble(manifest, fetch_freshness=3600.0)
    assert result.ok, result.repos[0].message
    assert project.repo("api").head() == project.upstreams["api"].head()


def test_offline_without_cache_fails_clearly(project: Project) -> None:
    """--offline with an empty cache fails each repo with a hint to fill the cache."""
    result = project.assemble(project.manifest(project.spec("api")), offline=True)
    assert result.repos[0].status == "failed"
    assert "--offline" in (result.repos[0].message or "")


def test_offline_uses_the_cache_without_network(project: Project) -> None:
    """Once cached, --offline assembles even when the upstream is gone."""
    manifest = project.manifest(project.spec("api"))
    asyncio.run(MirrorCache(project.cache_dir).ensure(project.upstreams["api"].url))
    shutil.rmtree(project.upstreams["api"].path)
    result = project.assemble(manifest, offline=True)
    assert result.ok
    assert result.repos[0].status == "cloned"


def test_update_keeps_the_users_tags(project: Project, moved: Manifest) -> None:
    """Updating never deletes a tag made in the workspace, nor clobbers one that differs."""
    api = project.repo("api")
    api.tag("my-own-tag")
    git(api.path, "tag", "-f", "v1", "HEAD")  # the upstream's v1 points elsewhere
    mine = git(api.path, "rev-parse", "v1")
    result = project.assemble(moved)
    assert result.repos[0].status == "updated"
    assert api.head() == project.upstreams["api"].head()
    assert git(api.path, "tag", "--list", "my-own-tag") == "my-own-tag"
    assert git(api.path, "rev-parse", "v1") == mine


def test_force_does_not_overwrite_untracked_files(project: Project, moved: Manifest) -> None:
    """Even with force, an untracked file in the way of the move is kept and the repo fails."""
    project.upstreams["api"].commit({"new.txt": "from upstream\n"})
    api = project.repo("api")
    api.write({"new.txt": "my untracked notes\n"})
    result = project.assemble(moved, force=True)
    assert result.repos[0].status == "failed"
    assert (api.path / "new.txt").read_text() == "my untracked notes\n"
