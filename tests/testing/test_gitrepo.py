"""nestr.testing builds real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from nestr.testing import GitRepo, git


def test_history_branches_and_tags(tmp_path: Path) -> None:
    """GitRepo grows real history, branches and tags that git itself sees."""
    repo = GitRepo.init(tmp_path / "svc", files={"a.txt": "a\n"})
    first = repo.head()
    repo.history(5)
    repo.branch("feature")
    repo.tag("v1")
    repo.tag("v1-annotated", annotated=True)
    assert git(repo.path, "rev-list", "--count", "HEAD") == "6"
    assert git(repo.path, "rev-parse", "v1^{commit}") == repo.head()
    assert git(repo.path, "cat-file", "-t", "v1-annotated") == "tag"
    assert repo.current_branch() == "main"
    repo.checkout("feature")
    assert repo.current_branch() == "feature"
    assert first != repo.head()


def test_write_and_delete_and_dirty(tmp_path: Path) -> None:
    """Files written without committing make the repo dirty; None deletes."""
    repo = GitRepo.init(tmp_path / "svc")
    assert not repo.is_dirty()
    repo.write({"new.bin": b"\x00\x01", "README.md": None})
    assert repo.is_dirty()
    repo.commit({})
    assert not (repo.path / "README.md").exists()
    assert repo.url.startswith("file://")


def test_git_helper_raises_readably(tmp_path: Path) -> None:
    """A failing git command in a test fails with git's stderr."""
    with pytest.raises(AssertionError, match="not a git repository"):
        git(tmp_path, "log")
