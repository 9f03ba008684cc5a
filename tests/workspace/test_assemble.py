"""Assembling a workspace from mirrors: fresh clones, updates, and nested repos."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.workspace.assembly_helpers import (
    Project,
    is_complete_repo,
    make_project,
    upstream_templates,
)

from nestr.events import Event, EventBus
from nestr.manifest.model import Manifest
from nestr.testing import git
from nestr.workspace.assemble import AssembleOptions, assemble
from nestr.workspace.record import open_workspace
from nestr.workspace.registry import registered
from nestr.workspace.results import AssemblyResult


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory))


def run(
    project: Project, manifest: Manifest, events: list[Event] | None = None, **options: Any
) -> AssemblyResult:
    bus = EventBus()
    if events is not None:
        bus.add_listener(events.append)
    opts = AssembleOptions(
        cache_dir=project.cache_dir, state_dir=project.state_dir, fetch_freshness=0, **options
    )
    return asyncio.run(assemble(manifest, project.ws, opts, bus=bus))


def test_a_file_where_the_scratch_dir_goes_is_cleared(project: Project) -> None:
    """A file left at ``.nestr/tmp`` (where clones and their prototype are made) is removed:
    the assembly clones every repo and leaves nothing there."""
    (project.ws / ".nestr").mkdir(parents=True)
    (project.ws / ".nestr" / "tmp").write_text("in the way\n")
    result = run(project, project.manifest(project.spec("api"), project.spec("web")))
    assert [r.status for r in result.repos] == ["cloned", "cloned"], result.repos
    assert not (project.ws / ".nestr" / "tmp").exists()


def test_fresh_assembly_checks_out_branch_tag_and_commit(project: Project) -> None:
    """Each repo lands at its revision: a branch tracking origin, a tag and a commit detached."""
    api_commit = git(project.upstreams["api"].path, "rev-parse", "dev")
    tag_commit = git(project.upstreams["web"].path, "rev-parse", "v1-annotated^{commit}")
    manifest = project.manifest(
        project.spec("api", api_commit),
        project.spec("web", "v1-annotated"),
        project.spec("lib", "main"),
    )
    result = run(project, manifest)
    assert result.ok
    assert result.exit_code == 0
    assert [r.status for r in result.repos] == ["cloned"] * 3
    assert project.repo("api").head() == api_commit
    assert project.repo("web").head() == tag_commit
    lib = project.repo("lib")
    assert lib.head() == project.upstreams["lib"].head()
    assert git(lib.path, "rev-parse", "--abbrev-ref", "main@{upstream}") == "origin/main"
    assert git(lib.path, "remote", "get-url", "origin") == project.upstreams["lib"].url
    assert (lib.path / ".git" / "objects" / "info" / "alternates").is_file()
    assert not (project.ws / ".nestr" / "tmp").exists()  # nothing left behind


def test_detached_repos_have_no_branch(project: Project) -> None:
    """A tag or commit revision leaves HEAD detached (no local branch is invented)."""
    manifest = project.manifest(project.spec("web", "v1"))
    run(project, manifest)
    with pytest.raises(AssertionError):
        git(project.ws / "web", "symbolic-ref", "-q", "HEAD")


def test_events_report_every_stage_with_durations(project: Project) -> None:
    """started → fetched → checked_out per repo, then assembly.finished, with seconds in data."""
    events: list[Event] = []
    run(project, project.manifest(project.spec("api"), project.spec("web")), events)
    for name in ("api", "web"):
        kinds = [e.type.rsplit(".", 1)[1] for e in events if e.repo == name]
        assert kinds == ["started", "fetched", "checked_out"]
        done = next(e for e in events if e.repo == name and e.type.endswith("checked_out"))
        assert done.data["status"] == "cloned"
        assert done.data["seconds"] > 0
    assert events[-1].type == "nestr.workspace.assembly.finished"
    assert events[-1].data["counts"] == {"cloned": 2}


def test_rerun_updates_moved_repos_and_leaves_the_rest(project: Project) -> None:
    """A second assembly fast-forwards repos whose branch moved and reports the rest unchanged."""
    manifest = project.manifest(project.spec("api"), project.spec("web"))
    run(project, manifest)
    new = project.upstreams["api"].commit({"b.txt": "b\n"})
    result = run(project, manifest)
    assert {r.name: r.status for r in result.repos} == {"api": "updated", "web": "unchanged"}
    assert project.repo("api").head() == new
    assert project.repo("api").current_branch() == "main"
    assert git(project.ws / "api", "rev-parse", "origin/main") == new


def test_switching_revision_moves_to_the_new_branch(project: Project) -> None:
    """Changing a repo's revision in the manifest moves the existing clone to it."""
    run(project, project.manifest(project.spec("api")))
    result = run(project, project.manifest(project.spec("api", "dev")))
    assert result.repos[0].status == "updated"
    assert project.repo("api").current_branch() == "dev"
    assert project.repo("api").head() == git(project.upstreams["api"].path, "rev-parse", "dev")
    assert git(project.ws / "api", "rev-parse", "--abbrev-ref", "dev@{upstream}") == "origin/dev"


def test_nested_repo_is_placed_inside_its_parent(project: Project) -> None:
    """A repo nested in another appears inside it, and the parent does not see it as untracked."""
    manifest = project.manifest(
        project.spec("lib", path="app/vendor/lib"), project.spec("api", path="app")
    )
    result = run(project, manifest, jobs=4)
    assert result.ok
    assert is_complete_repo(project.ws / "app")
    assert is_complete_repo(project.ws / "app/vendor/lib")
    assert git(project.ws / "app", "status", "--porcelain") == ""


def test_nested_repo_without_its_parent_fails_clearly(project: Project) -> None:
    """Selecting only a nested repo whose parent is not there fails it with the parent's name."""
    manifest = project.manifest(
        project.spec("api", path="app"), project.spec("lib", path="app/lib")
    )
    result = run(project, manifest, names=("lib",))
    assert result.repos[0].status == "failed"
    assert "nested in repo 'api'" in (result.repos[0].message or "")
    assert not (project.ws / "app").exists()


def test_workspace_record_and_registry_name_the_manifest(project: Project) -> None:
    """The workspace records its manifest and is registered with the repo paths it holds."""
    manifest = project.manifest(project.spec("api"), project.spec("web", path="front/web"))
    result = run(project, manifest)
    record = open_workspace(project.ws)
    assert record.manifest_path == manifest.path
    assert record.id == result.workspace_id
    [entry] = registered(project.state_dir)
    assert entry.id == record.id
    assert set(entry.repos) == {"api", "front/web"}
    assert not entry.ephemeral


def test_isolation_commits_and_branches_stay_in_their_workspace(project: Project) -> None:
    """A commit and a branch made in one workspace appear neither in another nor in the mirror."""
    manifest = project.manifest(project.spec("api"))
    run(project, manifest)
    other = Project(project.tmp / "second", project.upstreams)
    run(other, manifest)
    first = project.repo("api")
    local = first.commit({"local.txt": "mine\n"})
    first.branch("feature")
    second = other.repo("api")
    assert second.head() != local
    for where in (second.path, *project.cache_dir.glob("mirrors/api-*.git")):
        with pytest.raises(AssertionError):
            git(where, "cat-file", "-e", local)
        assert "feature" not in git(where, "branch", "--list")


def test_dissociate_makes_the_workspace_independent_of_the_cache(project: Project) -> None:
    """With dissociate the repos borrow nothing, and keep working after the cache is deleted."""
    manifest = project.manifest(project.spec("api"), project.spec("web"))
    run(project, manifest)
    result = run(project, manifest, dissociate=True)
    assert result.ok
    shutil.rmtree(project.cache_dir)
    for name in ("api", "web"):
        repo = project.ws / name
        assert not (repo / ".git/objects/info/alternates").exists()
        git(repo, "fsck", "--no-progress")
        assert git(repo, "log", "--oneline") != ""


def test_fresh_dissociated_clone_borrows_nothing(project: Project) -> None:
    """A first assembly with dissociate clones without alternates."""
    run(project, project.manifest(project.spec("lib")), dissociate=True)
    assert not (project.ws / "lib/.git/objects/info/alternates").exists()
    git(project.ws / "lib", "fsck", "--no-progress")


def test_nested_repo_of_a_failed_parent_fails_too(project: Project) -> None:
    """When the containing repo cannot be cloned, the nested one fails naming it."""
    manifest = project.manifest(
        project.spec("api", "no-such", path="app"), project.spec("lib", path="app/lib")
    )
    result = run(project, manifest)
    assert [r.status for r in result.repos] == ["failed", "failed"]
    assert "could not be assembled" in (result.repos[1].message or "")
    assert not (project.ws / "app").exists()


def test_empty_directory_at_the_path_is_filled(project: Project) -> None:
    """An empty directory where a repo belongs is replaced by the clone."""
    (project.ws / "api").mkdir(parents=True)
    result = run(project, project.manifest(project.spec("api")))
    assert result.repos[0].status == "cloned"
    assert is_complete_repo(project.ws / "api")


def test_changed_url_repoints_origin(project: Project) -> None:
    """When the manifest gives a repo a new URL, the existing clone's origin follows it."""
    run(project, project.manifest(project.spec("api")))
    moved_to = project.tmp / "elsewhere" / "api"
    shutil.copytree(project.upstreams["api"].path, moved_to)
    spec = project.spec("api")
    new_spec = type(spec)(spec.name, moved_to.as_uri(), spec.revision, spec.path)
    result = run(project, project.manifest(new_spec))
    assert result.repos[0].status == "unchanged"
    assert git(project.ws / "api", "remote", "get-url", "origin") == moved_to.as_uri()


def test_awkward_url_is_origin_exactly(project: Project) -> None:
    """A URL with blanks, quotes, backslashes, `;` and `#` is origin as given, and stays so."""
    odd = project.tmp / ' odd "dir" #1; back\\slash ' / "api"
    shutil.copytree(project.upstreams["api"].path, odd)
    spec = project.spec("api")
    manifest = project.manifest(type(spec)(spec.name, str(odd), spec.revision, spec.path))
    assert run(project, manifest).repos[0].status == "cloned"
    assert git(project.ws / "api", "remote", "get-url", "origin") == str(odd)
    assert git(project.ws / "api", "rev-parse", "--abbrev-ref", "main@{upstream}") == "origin/main"
    config_before = (project.ws / "api" / ".git" / "config").read_bytes()
    assert run(project, manifest).repos[0].status == "unchanged"
    assert (project.ws / "api" / ".git" / "config").read_bytes() == config_before


def test_pinned_commit_of_a_tag_shadowed_by_a_branch(project: Project) -> None:
    """A pin at tag v1 while a branch v1 points elsewhere checks out the pin, not the branch."""
    up = project.upstreams["web"]
    pin = git(up.path, "rev-parse", "v1^{commit}")
    up.branch("v1", start="main")  # same name as the tag, other commit
    git(up.path, "tag", "-d", "v1-annotated")  # so that v1 is the only tag at the pin
    git(up.path, "branch", "-D", "dev")  # and no branch is
    result = run(project, project.manifest(project.spec("web", pin)))
    assert result.ok, result.repos[0].message
    web = project.ws / "web"
    assert git(web, "rev-parse", "HEAD") == pin
    assert git(web, "status", "--porcelain", "--untracked-files=all") == ""
    with pytest.raises(AssertionError):
        git(web, "symbolic-ref", "-q", "HEAD")


def test_log_lines_of_each_repo_carry_its_name(project: Project) -> None:
    """Every git call logged during a repo's assembly names that repo (bound log context)."""
    import io
    import json

    from nestr.observability.logging import configure_logging

    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    run(project, project.manifest(project.spec("api", "main"), project.spec("lib", "main")))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    clones = [line for line in lines if line["event"] == "git" and " clone " in line["argv"]]
    assert clones
    for line in clones:
        assert line["repo"] in {"api", "lib"}
        assert f"/{line['repo']}" in line["argv"]
