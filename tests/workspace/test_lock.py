"""nestr.lock: resolving revisions to commits, reading and writing the file, locked assembly."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

from nestr.errors import InputError, UsageError
from nestr.events import EventBus
from nestr.git.mirror import MirrorCache
from nestr.manifest.model import Manifest
from nestr.testing import git
from nestr.workspace.assemble import AssembleOptions, assemble
from nestr.workspace.lockfile import (
    LockedRepo,
    LockFile,
    lock_path_for,
    manifest_hash,
    read_lock,
    render_lock,
    write_lock,
)
from nestr.workspace.locking import lock_workspace
from nestr.workspace.results import AssemblyResult


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory))


def lock(project: Project, manifest: Manifest, *, offline: bool = False) -> LockFile:
    cache = MirrorCache(project.cache_dir, freshness=0, offline=offline)
    result = asyncio.run(lock_workspace(manifest, cache=cache, jobs=4))
    assert result.ok, result.failures
    return result.lock


def assemble_locked(project: Project, manifest: Manifest, **options: bool) -> AssemblyResult:
    opts = AssembleOptions(
        cache_dir=project.cache_dir, state_dir=project.state_dir, locked=True, **options
    )
    return asyncio.run(assemble(manifest, project.ws, opts, bus=EventBus()))


def test_lock_resolves_every_revision_to_its_commit(project: Project) -> None:
    """Branches, tags (annotated too) and commits resolve to the commits git names."""
    up = {name: repo.path for name, repo in project.upstreams.items()}
    manifest = project.manifest(
        project.spec("api", "dev"), project.spec("web", "v1-annotated"), project.spec("lib")
    )
    locked = lock(project, manifest)
    assert locked.repos["api"].commit == git(up["api"], "rev-parse", "dev")
    assert locked.repos["web"].commit == git(up["web"], "rev-parse", "v1-annotated^{commit}")
    assert locked.repos["lib"].commit == git(up["lib"], "rev-parse", "main")
    on_disk = read_lock(lock_path_for(manifest))
    assert on_disk == locked
    assert on_disk.manifest_hash == manifest_hash(manifest)


def test_lock_is_not_written_when_a_revision_is_unknown(project: Project) -> None:
    """One unresolvable repo fails the lock, names it, and leaves no nestr.lock behind."""
    manifest = project.manifest(project.spec("api", "nope"), project.spec("web"))
    result = asyncio.run(
        lock_workspace(manifest, cache=MirrorCache(project.cache_dir, freshness=0))
    )
    assert not result.ok
    assert [f.name for f in result.failures] == ["api"]
    assert "'nope'" in result.failures[0].message
    assert not lock_path_for(manifest).exists()


def test_locked_assembly_checks_out_pinned_commits_detached(project: Project) -> None:
    """With a lock, repos sit on the locked commits even after the upstream moved on."""
    manifest = project.manifest(project.spec("api"), project.spec("web"))
    pinned = lock(project, manifest)
    project.upstreams["api"].commit({"later.txt": "later\n"})
    result = assemble_locked(project, manifest)
    assert result.ok
    assert result.locked
    for name in ("api", "web"):
        assert project.repo(name).head() == pinned.repos[name].commit
        with pytest.raises(AssertionError):
            git(project.ws / name, "symbolic-ref", "-q", "HEAD")


def test_locked_assembly_needs_no_network_when_cached(project: Project) -> None:
    """Commits already in the cache are checked out with the upstreams deleted."""
    manifest = project.manifest(project.spec("api"), project.spec("web"))
    pinned = lock(project, manifest)
    for repo in project.upstreams.values():
        shutil.rmtree(repo.path)
    result = assemble_locked(project, manifest)
    assert result.ok, [r.message for r in result.repos]
    assert not any(r.fetched for r in result.repos)
    assert project.repo("web").head() == pinned.repos["web"].commit


def test_stale_lock_is_a_usage_error(project: Project) -> None:
    """A lock made from another manifest is refused with a hint to run nestr lock."""
    manifest = project.manifest(project.spec("api"))
    lock(project, manifest)
    changed = replace(manifest, repos=(project.spec("api", "dev"),))
    with pytest.raises(UsageError) as info:
        assemble_locked(project, changed)
    assert "stale" in info.value.message
    assert info.value.hint is not None
    assert "nestr lock" in info.value.hint
    assert info.value.exit_code == 2


def test_missing_lock_is_a_usage_error(project: Project) -> None:
    """--locked without nestr.lock says how to create one."""
    with pytest.raises(UsageError, match="no lock file"):
        assemble_locked(project, project.manifest(project.spec("api")))


def test_unreachable_pinned_commit_is_fetched_by_id(project: Project) -> None:
    """A locked commit no branch or tag reaches any more is fetched by its id."""
    api = project.upstreams["api"]
    git(api.path, "config", "uploadpack.allowAnySHA1InWant", "true")
    api.branch("topic")
    api.checkout("topic")
    orphan = api.commit({"topic.txt": "t\n"})
    api.checkout("main")
    manifest = project.manifest(project.spec("api", "topic"))
    lock(project, manifest)
    git(api.path, "branch", "-D", "topic")
    asyncio.run(MirrorCache(project.cache_dir, freshness=0).ensure(api.url))  # prunes topic
    [mirror] = project.cache_dir.glob("mirrors/api-*.git")
    shutil.rmtree(mirror)
    result = assemble_locked(project, manifest)
    assert result.ok, result.repos[0].message
    assert project.repo("api").head() == orphan


def test_review_refs_outside_branches_and_tags_lock_and_assemble(project: Project) -> None:
    """``pull/7/head`` and ``refs/changes/12/34/1`` (no branch or tag reaches them) are fetched
    on demand: locked, assembled, and assembled from the lock with a cold cache."""
    made = {}
    for name, ref in [("api", "refs/pull/7/head"), ("web", "refs/changes/12/34/1")]:
        up = project.upstreams[name]
        git(up.path, "checkout", "-q", "--detach")
        made[name] = up.commit({"review.txt": f"{ref}\n"})
        git(up.path, "update-ref", ref, made[name])
        up.checkout("main")
    specs = (project.spec("api", "pull/7/head"), project.spec("web", "refs/changes/12/34/1"))
    manifest = project.manifest(*specs)
    assert {name: r.commit for name, r in lock(project, manifest).repos.items()} == made
    opts = AssembleOptions(cache_dir=project.cache_dir, state_dir=project.state_dir)
    result = asyncio.run(assemble(manifest, project.ws, opts, bus=EventBus()))
    assert result.ok, [r.message for r in result.repos]
    assert {name: project.repo(name).head() for name in made} == made
    shutil.rmtree(project.cache_dir)
    shutil.rmtree(project.ws)
    result = assemble_locked(project, manifest)
    assert result.ok, [r.message for r in result.repos]
    assert {name: project.repo(name).head() for name in made} == made


def test_lock_file_is_stable_and_sorted(tmp_path: Path) -> None:
    """Rendering sorts repos by name and round-trips through read_lock."""
    lock = LockFile(
        "sha256:" + "a" * 64,
        {
            "web": LockedRepo("web", "https://x/web", "main", "1" * 40),
            "api": LockedRepo("api", "https://x/api", "v1", "2" * 40),
        },
    )
    text = render_lock(lock)
    assert text.startswith("# nestr.lock: generated by `nestr lock`")
    assert text.index("  api:") < text.index("  web:")
    path = tmp_path / "nestr.lock"
    write_lock(path, lock)
    assert read_lock(path) == lock
    assert render_lock(read_lock(path)) == text


def test_bad_lock_file_names_the_line_and_field(tmp_path: Path) -> None:
    """A malformed commit id is an input error pointing at its line and field."""
    path = tmp_path / "nestr.lock"
    path.write_text(
        "version: 1\nmanifest_hash: sha256:00\nrepos:\n  api:\n    url: u\n"
        "    revision: main\n    commit: xyz\n"
    )
    with pytest.raises(InputError) as info:
        read_lock(path)
    assert "nestr.lock:7:13" in info.value.message
    assert "repos.api.commit" in info.value.message
    assert info.value.exit_code == 2


def test_manifest_hash_depends_on_what_is_locked(project: Project) -> None:
    """The hash changes with a repo's revision and ignores group membership."""
    base = project.manifest(project.spec("api"))
    assert manifest_hash(base) == manifest_hash(replace(base, repos=(project.spec("api"),)))
    grouped = replace(base, repos=(replace(project.spec("api"), groups=("x",)),))
    assert manifest_hash(grouped) == manifest_hash(base)
    assert manifest_hash(replace(base, repos=(project.spec("api", "dev"),))) != manifest_hash(base)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("- 1\n", ""),
        ("version: 2\nmanifest_hash: sha256:0\nrepos: {}\n", "version"),
        ("version: 1\nmanifest_hash: md5:0\nrepos: {}\n", "manifest_hash"),
        ("version: 1\nmanifest_hash: sha256:0\nrepos: []\n", "repos"),
        ("version: 1\nmanifest_hash: sha256:0\nrepos:\n  api: 3\n", "repos.api"),
        ("version: 1\nmanifest_hash: sha256:0\nrepos:\n  api: {revision: main}\n", "repos.api.url"),
    ],
)
def test_malformed_lock_files_are_input_errors(tmp_path: Path, text: str, field: str) -> None:
    """Each malformed part of a lock file is reported with the field it concerns."""
    path = tmp_path / "nestr.lock"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_lock(path)
    assert info.value.field == field
    assert info.value.hint == "regenerate it with `nestr lock`"


def test_an_unchanged_lock_is_read_from_the_input_cache(tmp_path: Path) -> None:
    """A lock read once is read back equal from the cache; rewriting it is seen at once."""
    from nestr import inputcache

    path = tmp_path / "nestr.lock"
    lock = LockFile(
        manifest_hash="sha256:" + "0" * 64,
        repos={"a": LockedRepo("a", "https://x/a.git", "main", "1" * 40)},
    )
    path.write_text(render_lock(lock), encoding="utf-8")
    old = path.stat().st_mtime - 60
    os.utime(path, (old, old))
    assert read_lock(path) == lock
    assert len(list(inputcache.cache_root().glob("lock-*.json"))) == 1
    assert read_lock(path) == lock
    newer = LockFile(
        lock.manifest_hash, {"a": LockedRepo("a", "https://x/a.git", "main", "2" * 40)}
    )
    path.write_text(render_lock(newer), encoding="utf-8")
    assert read_lock(path) == newer
