"""The mirror cache: layout, freshness, offline use, ref reading, failure classification."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from nestr.errors import GitError, WorkFailed
from nestr.git.failures import is_transient
from nestr.git.filelock import file_lock, try_file_lock
from nestr.git.mirror import MirrorCache, UnknownRevision, mirror_name
from nestr.git.refs import read_commit_of_ref, read_tips, tip_ref
from nestr.testing import GitRepo, git

_TEMPLATE: dict[str, Path] = {}


@pytest.fixture
def upstream(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """An upstream with history, a branch, a light and an annotated tag (built once, copied)."""
    if "repo" not in _TEMPLATE:
        repo = GitRepo.init(tmp_path_factory.mktemp("mirror-template") / "up")
        repo.history(2)
        repo.tag("light")
        repo.tag("annotated", annotated=True)
        repo.branch("dev")
        _TEMPLATE["repo"] = repo.path
    shutil.copytree(_TEMPLATE["repo"], tmp_path / "up", symlinks=True)
    return GitRepo(tmp_path / "up")


def test_mirror_name_is_readable_and_unique() -> None:
    """The directory name keeps the repo name and differs for different URLs."""
    a = mirror_name("https://example.com/org/api.git")
    b = mirror_name("https://example.com/other/api.git")
    assert a.startswith("api-")
    assert a.endswith(".git")
    assert a != b
    assert mirror_name("git@example.com:org/web").startswith("web-")


def test_mirror_is_bare_full_and_never_auto_gcs(tmp_path: Path, upstream: GitRepo) -> None:
    """A new mirror is a bare repo with every branch and tag, and gc.auto=0."""
    cache = MirrorCache(tmp_path / "cache")
    mirror, fetched = asyncio.run(cache.ensure(upstream.url))
    assert fetched
    assert mirror.looks_healthy()
    assert git(mirror.path, "config", "gc.auto") == "0"
    assert git(mirror.path, "config", "maintenance.auto") == "false"
    refs = git(mirror.path, "for-each-ref", "--format=%(refname)").split()
    assert set(refs) == {
        "refs/heads/main",
        "refs/heads/dev",
        "refs/tags/light",
        "refs/tags/annotated",
    }


def test_fresh_mirror_is_not_fetched_again(tmp_path: Path, upstream: GitRepo) -> None:
    """Within the freshness window a new cache instance does not fetch; outside it, it does."""
    asyncio.run(MirrorCache(tmp_path / "c", freshness=3600).ensure(upstream.url))
    new = upstream.commit({"n": "1"})
    mirror, fetched = asyncio.run(MirrorCache(tmp_path / "c", freshness=3600).ensure(upstream.url))
    assert not fetched
    mirror, fetched = asyncio.run(MirrorCache(tmp_path / "c", freshness=0).ensure(upstream.url))
    assert fetched
    assert git(mirror.path, "rev-parse", "main") == new


def test_deleted_upstream_branch_is_pruned_but_objects_stay(
    tmp_path: Path, upstream: GitRepo
) -> None:
    """A branch deleted upstream disappears from the mirror; its commits remain readable."""
    upstream.checkout("dev")
    gone = upstream.commit({"d": "1"})
    upstream.checkout("main")
    cache = MirrorCache(tmp_path / "c", freshness=0)
    mirror, _ = asyncio.run(cache.ensure(upstream.url))
    git(upstream.path, "branch", "-D", "dev")
    asyncio.run(MirrorCache(tmp_path / "c", freshness=0).ensure(upstream.url))
    assert "dev" not in git(mirror.path, "branch", "--list")
    git(mirror.path, "cat-file", "-e", gone)


def test_offline_refuses_to_create_a_mirror(tmp_path: Path, upstream: GitRepo) -> None:
    """Offline, a URL that is not cached fails with a hint instead of fetching."""
    with pytest.raises(WorkFailed, match="--offline"):
        asyncio.run(MirrorCache(tmp_path / "c", offline=True).ensure(upstream.url))


def test_resolve_kinds_agree_with_git(tmp_path: Path, upstream: GitRepo) -> None:
    """Branches, light and annotated tags, full and short ids resolve to git's commits."""
    cache = MirrorCache(tmp_path / "c")
    mirror, _ = asyncio.run(cache.ensure(upstream.url))
    head = upstream.head()
    cases = [("main", "branch"), ("dev", "branch"), ("light", "tag"), ("annotated", "tag")]
    for revision, kind in [*cases, (head, "commit"), (head[:10], "commit")]:
        resolved = asyncio.run(cache.resolve(upstream.url, revision))
        assert resolved.kind == kind, revision
        assert resolved.commit == git(mirror.path, "rev-parse", f"{revision}^{{commit}}")
    with pytest.raises(UnknownRevision, match="'nope'"):
        asyncio.run(cache.resolve(upstream.url, "nope"))


@pytest.mark.parametrize(
    "revision",
    ["--since=yesterday", "--upload-pack=touch PWNED", "main..dev", "main dev", "-oProxyCommand"],
)
def test_revision_is_never_read_as_an_option_or_a_range(
    tmp_path: Path, upstream: GitRepo, revision: str
) -> None:
    """A revision the manifest would refuse still resolves to nothing, not to git's echo."""
    cache = MirrorCache(tmp_path / "c")
    asyncio.run(cache.ensure(upstream.url))
    with pytest.raises(UnknownRevision, match="not found"):
        asyncio.run(cache.resolve(upstream.url, revision))
    assert not (tmp_path / "c" / "PWNED").exists()


def test_symbolic_head_resolves_to_its_branch(tmp_path: Path, upstream: GitRepo) -> None:
    """``HEAD`` in a mirror names the default branch, as git's --symbolic-full-name says."""
    cache = MirrorCache(tmp_path / "c")
    asyncio.run(cache.ensure(upstream.url))
    resolved = asyncio.run(cache.resolve(upstream.url, "HEAD"))
    assert (resolved.kind, resolved.ref, resolved.commit) == (
        "branch",
        "refs/heads/main",
        upstream.head(),
    )


def test_ref_files_are_read_without_git(tmp_path: Path, upstream: GitRepo) -> None:
    """Packed and loose branch refs are read from files; loose tags are left to git."""
    cache = MirrorCache(tmp_path / "c", freshness=0)
    mirror, _ = asyncio.run(cache.ensure(upstream.url))
    assert read_commit_of_ref(mirror.path, "refs/heads/main") == upstream.head()  # packed
    assert read_commit_of_ref(mirror.path, "refs/tags/annotated") == upstream.head()  # peeled
    new = upstream.commit({"x": "1"})
    upstream.tag("loose", annotated=True)
    cache = MirrorCache(tmp_path / "c", freshness=0)  # one instance fetches a URL only once
    asyncio.run(cache.ensure(upstream.url))
    assert read_commit_of_ref(mirror.path, "refs/heads/main") == new  # loose after fetch
    assert read_commit_of_ref(mirror.path, "refs/tags/loose") is None
    assert asyncio.run(cache.resolve(upstream.url, "loose")).commit == new


def test_tips_read_from_files_agree_with_git(tmp_path: Path, upstream: GitRepo) -> None:
    """Branch and peeled tag tips read from files are git's; a loose annotated tag is left out."""
    cache = MirrorCache(tmp_path / "c", freshness=0)
    mirror, _ = asyncio.run(cache.ensure(upstream.url))
    upstream.commit({"y": "2"})
    upstream.tag("loose", annotated=True)
    asyncio.run(MirrorCache(tmp_path / "c", freshness=0).ensure(upstream.url))
    tips = read_tips(mirror.path)
    listed = git(mirror.path, "for-each-ref", "--format=%(refname) %(*objectname)%(objectname)")
    for line in listed.splitlines():
        ref, objects = line.split()
        if ref != "refs/tags/loose":
            assert tips[ref] == objects[:40], ref  # peeled commit when the tag is annotated
    assert "refs/tags/loose" not in tips
    assert set(tips) == {r.split()[0] for r in listed.splitlines()} - {"refs/tags/loose"}


def test_tip_ref_prefers_the_revisions_own_ref(tmp_path: Path, upstream: GitRepo) -> None:
    """A commit at a tip is cloned by the manifest's ref, else a tag, else HEAD's branch."""
    mirror, _ = asyncio.run(MirrorCache(tmp_path / "c").ensure(upstream.url))
    head = upstream.head()  # tip of main and dev, and of both tags
    assert tip_ref(mirror.path, head, "dev") == "refs/heads/dev"
    assert tip_ref(mirror.path, head, "annotated") == "refs/tags/annotated"
    assert tip_ref(mirror.path, head, head) == "refs/tags/annotated"  # sorted first
    older = git(upstream.path, "rev-parse", "HEAD~1")
    assert tip_ref(mirror.path, older, "main") is None
    assert asyncio.run(MirrorCache(tmp_path / "c").has_commit(mirror, older))  # asks git


def test_transient_failures_are_told_apart() -> None:
    """Network trouble is retried; a missing repository is not."""
    assert is_transient(GitError(["git"], 128, "fatal: Could not resolve host: x"))
    assert is_transient(GitError(["git"], 128, "fatal: early EOF"))
    assert is_transient(GitError(["git"], None, "no answer after 5s"))
    assert not is_transient(GitError(["git"], 128, "fatal: repository 'x' does not exist"))


def test_file_lock_excludes_and_shares(tmp_path: Path) -> None:
    """An exclusive holder blocks others; shared holders coexist."""
    lock = tmp_path / "m.lock"

    async def scenario() -> None:
        async with file_lock(lock):
            with try_file_lock(lock, shared=True) as taken:
                assert not taken
        async with file_lock(lock, shared=True):
            with try_file_lock(lock, shared=True) as taken:
                assert taken
            with try_file_lock(lock) as taken:
                assert not taken

    asyncio.run(scenario())


def _linear(path: Path, commits: int) -> GitRepo:
    """An upstream with one branch of ``commits`` commits and nothing else."""
    repo = GitRepo.init(path)
    repo.history(commits - 1)
    return repo


def _count(path: Path, rev: str = "main") -> int:
    return int(git(path, "rev-list", "--count", rev))


def test_depth_bookkeeping_deeper_or_full_requests_unshallow(tmp_path: Path) -> None:
    """A shallow mirror serves requests up to its depth; a deeper or full one makes it full."""
    up = _linear(tmp_path / "up", 6)
    cache = MirrorCache(tmp_path / "c", freshness=3600)
    mirror, fetched = asyncio.run(cache.ensure(up.url, depth=2))
    assert fetched
    assert (mirror.shallow_depth(), _count(mirror.path)) == (2, 2)
    assert asyncio.run(cache.ensure(up.url, depth=1)) == (mirror, False)
    assert mirror.shallow_depth() == 2
    offline = MirrorCache(tmp_path / "c", offline=True)
    assert asyncio.run(offline.ensure(up.url)) == (mirror, False)  # serves what it has
    assert mirror.shallow_depth() == 2
    _, fetched = asyncio.run(cache.ensure(up.url, depth=3))
    assert fetched
    assert mirror.shallow_depth() is None
    assert _count(mirror.path) == 6
    _, fetched = asyncio.run(MirrorCache(tmp_path / "c", freshness=0).ensure(up.url, depth=1))
    assert fetched
    assert mirror.shallow_depth() is None  # never from full back to shallow


def test_plain_path_ignores_depth_and_records_a_full_mirror(tmp_path: Path) -> None:
    """git clones a plain local path in full whatever --depth says; the metadata says so."""
    up = _linear(tmp_path / "up", 3)
    mirror, _ = asyncio.run(MirrorCache(tmp_path / "c").ensure(str(up.path), depth=1))
    assert mirror.shallow_depth() is None
    assert _count(mirror.path) == 3


def test_pinned_commit_fetched_by_id_does_not_cut_known_history(tmp_path: Path) -> None:
    """Fetching a pin with --depth keeps the history the mirror already had for its branches."""
    up = _linear(tmp_path / "up", 4)
    mirror, _ = asyncio.run(MirrorCache(tmp_path / "c").ensure(up.url, depth=2))
    up.history(4)
    asyncio.run(MirrorCache(tmp_path / "c", freshness=0).ensure(up.url, depth=2))
    assert _count(mirror.path) == 6  # refreshes add onto the history: 2 + 4 commits
    up.branch("side", start="main~1")
    up.checkout("side")
    pinned = up.commit({"side.txt": "s\n"})
    up.checkout("main")
    git(up.path, "branch", "-D", "side")  # only the id is left to ask for
    cache = MirrorCache(tmp_path / "c", freshness=3600)
    assert asyncio.run(cache.ensure(up.url, commit=pinned, depth=2)) == (mirror, True)
    assert asyncio.run(cache.has_commit(mirror, pinned))
    assert mirror.shallow_depth() == 2
    # git marks main~1 shallow (2 commits below the pin) although the mirror has its parents
    assert _count(mirror.path) == 6
    assert _count(mirror.path, pinned) == 1 + 5  # the pin joins main~1 and its history


def test_offline_pin_missing_from_shallow_mirror_says_so(tmp_path: Path) -> None:
    """Offline, a pin beyond a shallow mirror's history fails naming the commit and the depth."""
    up = _linear(tmp_path / "up", 5)
    asyncio.run(MirrorCache(tmp_path / "c").ensure(up.url, depth=2))
    old = git(up.path, "rev-parse", "main~3")
    offline = MirrorCache(tmp_path / "c", offline=True)
    with pytest.raises(WorkFailed, match=rf"commit {old[:12]} .*shallow, depth 2.*--offline"):
        asyncio.run(offline.ensure(up.url, commit=old, depth=2))


def test_pin_missing_even_from_the_full_history_is_unknown(tmp_path: Path) -> None:
    """A pin no server has: the shallow try, then the full mirror, then a clear UnknownRevision."""
    up = _linear(tmp_path / "up", 3)
    cache = MirrorCache(tmp_path / "c", freshness=0)
    mirror, _ = asyncio.run(cache.ensure(up.url, depth=1))
    assert mirror.shallow_depth() == 1
    missing = "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(UnknownRevision, match=missing):
        asyncio.run(MirrorCache(tmp_path / "c").ensure(up.url, commit=missing, depth=1))
    assert mirror.shallow_depth() is None  # the fallback made it full before giving up
    assert _count(mirror.path) == 3


def _with_review_refs(up: GitRepo) -> dict[str, str]:
    """Commits reachable only from ``refs/pull/7/head`` and ``refs/changes/12/34/1``."""
    made = {}
    for ref, name in [("refs/pull/7/head", "pr.txt"), ("refs/changes/12/34/1", "change.txt")]:
        up.checkout("main")
        git(up.path, "checkout", "-q", "--detach")
        made[ref] = up.commit({name: f"{ref}\n"})
        git(up.path, "update-ref", ref, made[ref])
    up.checkout("main")
    return made


def test_refs_outside_branches_and_tags_are_fetched_on_demand(tmp_path: Path) -> None:
    """``pull/7/head`` and ``refs/changes/…`` resolve after one fetch of just that ref."""
    up = _linear(tmp_path / "up", 2)
    made = _with_review_refs(up)
    cache = MirrorCache(tmp_path / "c")
    mirror, _ = asyncio.run(cache.ensure(up.url))
    assert not asyncio.run(cache.has_commit(mirror, made["refs/pull/7/head"]))
    for revision, ref in [("pull/7/head", "refs/pull/7/head"), *[(r, r) for r in made]]:
        resolved = asyncio.run(cache.resolve(up.url, revision))
        assert (resolved.kind, resolved.ref, resolved.commit) == ("commit", None, made[ref])
    assert git(mirror.path, "rev-parse", "refs/changes/12/34/1") == made["refs/changes/12/34/1"]
    with pytest.raises(UnknownRevision, match="'pull/8/head' not found"):
        asyncio.run(cache.resolve(up.url, "pull/8/head"))


def test_on_demand_ref_follows_the_server_and_serves_offline(tmp_path: Path) -> None:
    """A force-pushed review ref is fetched again by the next operation; offline uses the cache."""
    up = _linear(tmp_path / "up", 2)
    _with_review_refs(up)
    asyncio.run(MirrorCache(tmp_path / "c").ensure(up.url))
    asyncio.run(MirrorCache(tmp_path / "c").resolve(up.url, "pull/7/head"))
    git(up.path, "checkout", "-q", "--detach")
    moved = up.commit({"pr.txt": "amended\n"})
    git(up.path, "update-ref", "refs/pull/7/head", moved)
    up.checkout("main")
    offline = MirrorCache(tmp_path / "c", offline=True)
    assert asyncio.run(offline.resolve(up.url, "pull/7/head")).commit != moved
    with pytest.raises(WorkFailed, match="--offline"):
        asyncio.run(offline.resolve(up.url, "pull/9/head"))
    cache = MirrorCache(tmp_path / "c", freshness=0)
    asyncio.run(cache.ensure(up.url))
    assert asyncio.run(cache.resolve(up.url, "pull/7/head")).commit == moved
