"""The pure planner: what happens to each repo, decided from plain data."""

from __future__ import annotations

from dataclasses import replace

from nestr.git.refs import Resolved
from nestr.manifest.model import RepoSpec
from nestr.workspace.plan import (
    RepoState,
    assembly_order,
    children_of,
    local_work_revs,
    parent_of,
    plan_repo,
)

MAIN = Resolved("main", "branch", "refs/heads/main", "a" * 40)
TAG = Resolved("v1", "tag", "refs/tags/v1", "b" * 40)


def spec(name: str, path: str) -> RepoSpec:
    return RepoSpec(name=name, url=f"file:///{name}", revision="main", path=path)


def test_missing_directory_is_cloned() -> None:
    """Nothing on disk means a fresh clone."""
    assert plan_repo(RepoState(), MAIN, stash=False, force=False).kind == "clone"


def test_foreign_directory_is_refused() -> None:
    """A directory that is not a repository is never touched."""
    action = plan_repo(RepoState(exists=True), MAIN, stash=False, force=True)
    assert action.kind == "refuse"
    assert "not a git repository" in (action.reason or "")


def test_repo_at_target_is_unchanged() -> None:
    """HEAD on the wanted branch at the wanted commit needs nothing."""
    state = RepoState(True, True, head=MAIN.commit, branch="main")
    assert plan_repo(state, MAIN, stash=False, force=False).kind == "unchanged"


def test_same_commit_on_another_branch_still_moves() -> None:
    """Being at the right commit on the wrong branch is not at the target."""
    state = RepoState(True, True, head=MAIN.commit, branch="feature")
    assert plan_repo(state, MAIN, stash=False, force=False).kind == "move"


def test_tag_target_wants_a_detached_head() -> None:
    """For a tag, HEAD must be detached at the tag's commit to count as unchanged."""
    detached = RepoState(True, True, head=TAG.commit, branch=None)
    on_branch = RepoState(True, True, head=TAG.commit, branch="main")
    assert plan_repo(detached, TAG, stash=False, force=False).kind == "unchanged"
    assert plan_repo(on_branch, TAG, stash=False, force=False).kind == "move"


def test_dirty_repo_is_refused_unless_stash_or_force() -> None:
    """Tracked changes refuse the move; --stash and --force allow it with their flag set."""
    state = RepoState(True, True, head="c" * 40, branch="main", dirty=True)
    assert plan_repo(state, MAIN, stash=False, force=False).kind == "refuse"
    stashed = plan_repo(state, MAIN, stash=True, force=False)
    assert (stashed.kind, stashed.stash) == ("move", True)
    forced = plan_repo(state, MAIN, stash=False, force=True)
    assert (forced.kind, forced.force) == ("move", True)


def test_dirty_repo_at_its_target_is_unchanged_with_a_note() -> None:
    """Uncommitted changes in a repo that needs no move are no reason to refuse it."""
    state = RepoState(True, True, head=MAIN.commit, branch="main", dirty=True)
    for stash, force in [(False, False), (True, False), (False, True)]:
        action = plan_repo(state, MAIN, stash=stash, force=force)
        assert (action.kind, action.note) == ("unchanged", "uncommitted changes kept")
    clean = plan_repo(replace(state, dirty=False), MAIN, stash=False, force=False)
    assert (clean.kind, clean.note) == ("unchanged", None)


def test_local_work_checks_only_what_could_be_lost() -> None:
    """The moved branch or a detached HEAD is checked; another branch keeps its commits."""
    on_main = RepoState(True, True, head="c" * 40, branch="main")
    on_feature = RepoState(True, True, head="c" * 40, branch="feature")
    detached = RepoState(True, True, head="c" * 40, branch=None)
    assert local_work_revs(on_main, MAIN) == ["HEAD"]
    assert local_work_revs(on_feature, MAIN) == ["--branches=main"]
    assert local_work_revs(detached, MAIN) == ["HEAD", "--branches=main"]
    assert local_work_revs(on_feature, TAG) == []
    assert local_work_revs(detached, TAG) == ["HEAD"]


def test_nesting_parents_children_and_order() -> None:
    """The closest containing repo is the parent; parents come first; children are relative."""
    app, lib, deep, other = (
        spec("app", "app"),
        spec("lib", "app/vendor/lib"),
        spec("deep", "app/vendor/lib/x"),
        spec("other", "application"),
    )
    specs = [deep, lib, other, app]
    assert parent_of(deep, specs) is lib
    assert parent_of(lib, specs) is app
    assert parent_of(other, specs) is None
    assert children_of(app, specs) == ["vendor/lib", "vendor/lib/x"]
    assert [s.name for s in assembly_order(specs)] == ["other", "app", "lib", "deep"]
