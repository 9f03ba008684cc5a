"""``clone.depth`` end to end: shallow mirrors, shallow workspace repos, pinned commits beyond
the history, offline use; and ``clone.filter``, which is accepted but not applied.

Upstream URLs are ``file://`` URLs: git ignores ``--depth`` for a plain local path.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

from nestr.events import Event, EventBus
from nestr.git.mirror import MirrorCache, mirror_name
from nestr.manifest.model import CloneOptions, Manifest, RepoSpec
from nestr.testing import GitRepo, git
from nestr.workspace.assemble import AssembleOptions, assemble
from nestr.workspace.cloneopts import FILTER_NOT_APPLIED, mirror_depths
from nestr.workspace.lockfile import LockedRepo, LockFile, lock_path_for, manifest_hash, write_lock
from nestr.workspace.locking import lock_workspace
from nestr.workspace.results import AssemblyResult

# The templates' main has 4 commits; 5 more put main's depth-2 history clear of the other refs
# (dev and the tags sit at main~1 of the template), so a depth-2 clone of main holds exactly 2.
MORE = 5


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    made = make_project(tmp_path, upstream_templates(tmp_path_factory), names=("api", "web"))
    made.upstreams["api"].history(MORE)
    return made


def shallow(spec: RepoSpec, depth: int | None = 2, filter_: str | None = None) -> RepoSpec:
    return replace(spec, clone=CloneOptions(depth=depth, filter=filter_))


def write_manifest(project: Project, *specs: RepoSpec) -> Manifest:
    """The manifest of ``specs`` written as nestr.yaml, ``clone`` options included."""
    manifest = project.manifest(*specs)
    lines = manifest.path.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    for line in lines:
        out.append(line)
        name = line.removeprefix("  - name: ")
        if name != line:
            clone = next(s.clone for s in specs if s.name == name)
            options = {"depth": clone.depth, "filter": clone.filter}
            written = ", ".join(f"{k}: {v}" for k, v in options.items() if v is not None)
            if written:
                out.append(f"    clone: {{{written}}}")
    manifest.path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return manifest


def run(
    project: Project,
    manifest: Manifest,
    ws: Path | None = None,
    events: list[Event] | None = None,
    **options: Any,
) -> AssemblyResult:
    bus = EventBus()
    if events is not None:
        bus.add_listener(events.append)
    opts = AssembleOptions(
        cache_dir=project.cache_dir, state_dir=project.state_dir, fetch_freshness=0, **options
    )
    return asyncio.run(assemble(manifest, ws or project.ws, opts, bus=bus))


def mirror_of(project: Project, name: str) -> Path:
    return project.cache_dir / "mirrors" / mirror_name(project.upstreams[name].url)


def count(repo: Path, rev: str = "HEAD") -> int:
    return int(git(repo, "rev-list", "--count", rev))


def meta_depth(mirror: Path) -> Any:
    return json.loads((mirror / "nestr-mirror.json").read_text(encoding="utf-8"))["depth"]


def test_depth_makes_a_shallow_mirror_and_a_workspace_repo_of_n_commits(project: Project) -> None:
    """depth 2: mirror and workspace repo hold 2 commits of main; log, status and commit work."""
    result = run(project, project.manifest(shallow(project.spec("api"))))
    assert result.ok, result.repos
    mirror = mirror_of(project, "api")
    assert (mirror / "shallow").is_file()
    assert meta_depth(mirror) == 2
    assert count(mirror, "main") == 2
    repo = project.repo("api")
    assert repo.head() == project.upstreams["api"].head()
    assert count(repo.path) == 2
    assert len(git(repo.path, "log", "--oneline").splitlines()) == 2
    assert git(repo.path, "status", "--porcelain") == ""
    assert git(repo.path, "rev-parse", "--abbrev-ref", "main@{upstream}") == "origin/main"
    assert git(repo.path, "remote", "get-url", "origin") == project.upstreams["api"].url
    # git copies from a shallow source instead of borrowing (it ignores --shared)
    assert not (repo.path / ".git" / "objects" / "info" / "alternates").exists()
    repo.commit({"new.txt": "x\n"}, message="local work")
    assert count(repo.path) == 3


def test_a_request_without_depth_makes_the_shallow_mirror_full(project: Project) -> None:
    """A second workspace without depth unshallows the mirror; the first one keeps working."""
    first = project.tmp / "first"
    shallow_manifest = project.manifest(shallow(project.spec("api")), directory="shallow")
    assert run(project, shallow_manifest, ws=first).ok
    mirror = mirror_of(project, "api")
    assert (mirror / "shallow").is_file()
    total = count(project.upstreams["api"].path)
    assert run(project, project.manifest(project.spec("api"))).ok
    assert not (mirror / "shallow").exists()
    assert meta_depth(mirror) is None
    assert count(mirror, "main") == total
    assert count(project.ws / "api") == total
    assert (project.ws / "api" / ".git" / "objects" / "info" / "alternates").is_file()
    assert count(first / "api") == 2
    assert git(first / "api", "status", "--porcelain") == ""
    new = project.upstreams["api"].history(1)  # the shallow copy still updates from the full mirror
    assert [r.status for r in run(project, shallow_manifest, ws=first).repos] == ["updated"]
    assert (project.repo("api", first).head(), count(first / "api")) == (new, 3)


def test_shallow_workspace_fast_forwards_when_upstream_moves(project: Project) -> None:
    """A later assembly fetches the new commits onto the old ones: the branch fast-forwards."""
    manifest = project.manifest(shallow(project.spec("api")))
    assert run(project, manifest).ok
    new = project.upstreams["api"].history(3)
    result = run(project, manifest)
    assert [r.status for r in result.repos] == ["updated"], result.repos
    repo = project.repo("api")
    assert repo.head() == new
    assert count(repo.path) == 2 + 3
    assert (mirror_of(project, "api") / "shallow").is_file()


def test_locked_commit_deeper_than_depth_is_fetched_by_id(project: Project) -> None:
    """A lock made long ago pins a commit a fresh depth-2 mirror lacks: it is fetched, shallow."""
    manifest = project.manifest(shallow(project.spec("api")))
    cache = MirrorCache(project.cache_dir, freshness=0)
    locked = asyncio.run(lock_workspace(manifest, cache=cache, jobs=2))
    assert locked.ok, locked.failures
    mirror = mirror_of(project, "api")
    assert (mirror / "shallow").is_file()  # `nestr lock` resolved tips without unshallowing
    pinned = locked.lock.repos["api"].commit
    project.upstreams["api"].history(4)
    shutil.rmtree(project.cache_dir)  # another machine: its mirror starts 2 commits deep
    result = run(project, manifest, locked=True)
    assert result.ok, result.repos
    repo = project.repo("api")
    assert repo.head() == pinned
    assert count(repo.path) == 2
    assert git(repo.path, "status", "--porcelain") == ""
    assert (mirror / "shallow").is_file()
    assert count(mirror, "main") == 2  # fetching the pin cut no history of main


@pytest.mark.parametrize("write_clones", [True, False])
def test_a_pin_just_past_a_shallow_mirror_hides_none_of_its_history(
    project: Project, write_clones: bool
) -> None:
    """A pin two commits past a depth-2 mirror's main that no ref reaches is fetched by id with
    depth 2, whose boundary sits on a commit the mirror has the parent of. git.write_clones
    on: nestr takes it off the shallow list (the mirror stays shallow); off: git makes the
    mirror full. Either way the pin's history as far as the mirror had it stays visible."""
    manifest = project.manifest(shallow(project.spec("api")))
    assert run(project, manifest, project.tmp / "first").ok  # a mirror 2 commits deep
    mirror = mirror_of(project, "api")
    known = count(mirror, "main")
    upstream = project.upstreams["api"]
    upstream.branch("topic")
    upstream.checkout("topic")
    pinned = upstream.history(2)  # two commits on main's tip, on a branch deleted later
    upstream.checkout("main")
    git(upstream.path, "branch", "-D", "topic")
    spec = manifest.repos[0]
    entry = LockedRepo(spec.name, spec.url, spec.revision, pinned)
    write_lock(lock_path_for(manifest), LockFile(manifest_hash(manifest), {spec.name: entry}))
    opts = AssembleOptions(
        cache_dir=project.cache_dir,
        state_dir=project.state_dir,
        fetch_freshness=0,
        locked=True,
        write_clones=write_clones,
    )
    result = asyncio.run(assemble(manifest, project.ws, opts, bus=EventBus()))
    assert result.ok, result.repos
    assert project.repo("api").head() == pinned
    assert (mirror / "shallow").exists() is write_clones
    assert count(mirror, pinned) >= known + 2


def test_refused_shallow_fetch_falls_back_to_a_full_mirror(project: Project) -> None:
    """A server that refuses unadvertised commits (protocol v0): the mirror is made full."""
    git(project.tmp, "config", "--global", "protocol.version", "0")
    pinned = git(project.upstreams["api"].path, "rev-parse", "main~4")
    result = run(project, project.manifest(shallow(project.spec("api", pinned))))
    assert result.ok, result.repos
    mirror = mirror_of(project, "api")
    assert not (mirror / "shallow").exists()
    assert project.repo("api").head() == pinned
    assert count(project.ws / "api") == count(project.upstreams["api"].path, pinned)


def test_pin_fetched_into_a_shallow_mirror_reaches_the_workspace_under_protocol_v0(
    project: Project,
) -> None:
    """Protocol v0, a server allowing reachable ids: the pin no mirror ref reaches is copied."""
    git(project.tmp, "config", "--global", "protocol.version", "0")
    upstream = project.upstreams["api"].path
    git(upstream, "config", "uploadpack.allowReachableSHA1InWant", "true")
    pinned = git(upstream, "rev-parse", "main~2")
    result = run(project, project.manifest(shallow(project.spec("api", pinned))))
    assert result.ok, result.repos
    assert (mirror_of(project, "api") / "shallow").is_file()
    assert project.repo("api").head() == pinned
    assert count(project.ws / "api") == 2


def test_repos_sharing_a_url_get_the_deepest_history_any_needs(project: Project) -> None:
    """Two repos of one URL, one shallow, one not: the mirror is full before either is cloned."""
    specs = (shallow(project.spec("api", path="a")), project.spec("api", path="b"))
    specs = (specs[0], replace(specs[1], name="api-full"))
    assert mirror_depths(specs) == {project.upstreams["api"].url: None}
    assert mirror_depths([shallow(specs[0], 3), specs[0]]) == {specs[0].url: 3}
    result = run(project, Manifest(path=project.tmp / "nestr.yaml", repos=specs))
    assert result.ok, result.repos
    total = count(project.upstreams["api"].path)
    assert [count(project.ws / p) for p in ("a", "b")] == [total, total]


def test_existing_shallow_repo_moves_to_a_pin_beyond_its_history(project: Project) -> None:
    """A shallow workspace repo moved to an older pinned commit gets it from the mirror."""
    assert run(project, project.manifest(shallow(project.spec("api")))).ok
    pinned = git(project.upstreams["api"].path, "rev-parse", "main~2")  # history: 2 commits
    result = run(project, project.manifest(shallow(project.spec("api", pinned))))
    assert [r.status for r in result.repos] == ["updated"], result.repos
    repo = project.repo("api")
    assert repo.head() == pinned
    assert len(git(repo.path, "log", "--oneline").splitlines()) == 2
    assert git(repo.path, "status", "--porcelain") == ""


def test_offline_shallow_mirror_without_the_locked_commit_fails_that_repo(
    project: Project, nestr: Any
) -> None:
    """--locked --offline: a pin beyond a shallow mirror's history fails its repo, exit 1."""
    manifest = write_manifest(project, shallow(project.spec("api")), project.spec("web"))
    assert nestr("lock", "-m", str(manifest.path)).code == 0
    pinned = project.upstreams["api"].head()
    project.upstreams["api"].history(4)
    shutil.rmtree(project.cache_dir)  # the cache is refilled from the newer upstream
    first = ("assemble", "-m", str(manifest.path), "-w", str(project.tmp / "other"))
    assert nestr(*first).code == 0
    args = ("assemble", "-m", str(manifest.path), "-w", str(project.ws), "--locked", "--offline")
    result = nestr(*args, "--json")
    assert result.code == 1
    repos = {r["name"]: r for r in json.loads(result.out)["repos"]}
    assert repos["web"]["status"] == "cloned"
    assert repos["api"]["status"] == "failed"
    message = repos["api"]["message"]
    assert f"commit {pinned[:12]} is not in the cache (the mirror is shallow, depth 2)" in message
    assert "--offline forbids fetching" in message
    assert not (project.ws / "api").exists()
    text = nestr(*args)
    assert text.code == 1
    assert "api: failed:" in text.out
    assert "hint: run once without --offline" in text.out


def test_filter_is_not_applied_and_warned_once_per_value(project: Project, nestr: Any) -> None:
    """Mirrors stay complete under clone.filter, and each distinct value is warned about once."""
    specs = (
        shallow(project.spec("api"), depth=None, filter_="blob:none"),
        shallow(project.spec("web"), depth=None, filter_="blob:none"),
    )
    manifest = write_manifest(project, *specs)
    result = nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws))
    assert result.code == 0, result.err
    assert result.err.count(FILTER_NOT_APPLIED) == 1
    assert "blob:none" in result.err
    mirror = mirror_of(project, "api")
    assert "promisor" not in git(mirror, "config", "--list")
    missing = git(mirror, "rev-list", "--all", "--objects", "--missing=print")
    assert not [line for line in missing.splitlines() if line.startswith("?")]


def test_filter_warning_event_names_the_repos(project: Project) -> None:
    """Two filter values: two warning events, each naming its repos."""
    events: list[Event] = []
    specs = (
        shallow(project.spec("api"), depth=None, filter_="blob:none"),
        shallow(project.spec("web"), depth=None, filter_="tree:0"),
    )
    assert run(project, project.manifest(*specs), events=events).ok
    warnings = [e for e in events if e.type == "nestr.workspace.clone_filter_ignored"]
    assert [(e.data["filter"], e.data["repos"], e.severity) for e in warnings] == [
        ("blob:none", ["api"], "warning"),
        ("tree:0", ["web"], "warning"),
    ]


def test_workspace_repo_of_depth_one_from_plain_template(project: Project) -> None:
    """depth 1 on a branch: one commit, and the repo is a normal repo for git."""
    result = run(project, project.manifest(shallow(project.spec("web", "dev"), depth=1)))
    assert result.ok, result.repos
    repo = GitRepo(project.ws / "web")
    assert count(repo.path) == 1
    assert repo.current_branch() == "dev"


def test_cache_list_shows_depth_and_gc_leaves_shallow_copies_working(
    project: Project, nestr: Any
) -> None:
    """A shallow mirror lists its depth and no borrower; removing it breaks no workspace repo."""
    manifest = write_manifest(project, shallow(project.spec("api")), project.spec("web"))
    assert nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws)).code == 0
    listed = json.loads(nestr("cache", "list", "--json").out)["mirrors"]
    by_name = {Path(m["mirror"]).name.split("-")[0]: m for m in listed}
    assert (by_name["api"]["depth"], by_name["api"]["borrowed_by"]) == (2, 0)
    assert (by_name["web"]["depth"], by_name["web"]["borrowed_by"]) == (None, 1)
    assert nestr("cache", "gc").code == 0
    assert not mirror_of(project, "api").exists()
    repo = project.ws / "api"
    git(repo, "fsck", "--connectivity-only")
    assert count(repo) == 2
