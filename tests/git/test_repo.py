"""nestr.git.repo: one porcelain over real git, one status parser, every call with a timeout."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nestr.errors import GitError, WorkFailed
from nestr.git.repo import Changes, GitStatus, Repo, parse_status, read_statuses
from nestr.git.runner import GitResult
from nestr.testing import GitRepo, git


def test_parse_status_lists_the_paths_of_every_kind_of_entry() -> None:
    """Paths with spaces, a rename (its new name; the old one is not a path), a conflict and
    untracked paths are all listed, beside the counts."""
    entries = [
        "# branch.oid (initial)",
        "# branch.head main",
        "1 .M N... 100644 100644 100644 aaa bbb with space.txt",
        "2 R. N... 100644 100644 100644 aaa bbb R100 new name.txt",
        "old name.txt",
        "u UU N... 100644 100644 100644 100644 aaa bbb ccc conflict.txt",
        "? dir/untracked.txt",
    ]
    found = parse_status("\0".join(entries) + "\0")
    assert found.paths == {"with space.txt", "new name.txt", "conflict.txt", "dir/untracked.txt"}
    assert found.changes == Changes(staged=1, unstaged=1, untracked=1, conflicted=1)
    assert (found.commit, found.branch) == (None, "main")


def test_branch_head_switch_and_resolve(tmp_path: Path) -> None:
    """head, branch (None when detached), switch to a new branch and resolve answer as git does."""
    up = GitRepo.init(tmp_path / "r")
    repo = Repo(up.path, timeout=30)

    async def scenario() -> tuple[object, ...]:
        before = (await repo.head(), await repo.branch())
        await repo.switch("topic", create=True)
        on_topic = await repo.branch()
        await repo.run("checkout", "-q", "--detach")
        detached = await repo.branch()
        missing = await repo.resolve("refs/heads/nope")
        return before, on_topic, detached, missing, await repo.resolve("refs/heads/topic")

    before, on_topic, detached, missing, topic = asyncio.run(scenario())
    assert before == (up.head(), "main")
    assert on_topic == "topic"
    assert detached is None
    assert missing is None
    assert topic == up.head()


def test_commit_only_takes_the_named_paths(tmp_path: Path) -> None:
    """commit(only=...) commits those paths and leaves another staged change staged."""
    up = GitRepo.init(tmp_path / "r")
    up.write({"mine.txt": "mine\n", "theirs.txt": "theirs\n"})
    git(up.path, "add", "theirs.txt")
    repo = Repo(up.path, timeout=30)

    async def scenario() -> tuple[str, GitStatus]:
        await repo.add(["mine.txt"])
        commit = await repo.commit("only mine", only=["mine.txt"], no_verify=True)
        return commit, await repo.status()

    commit, after = asyncio.run(scenario())
    assert commit == up.head()
    assert git(up.path, "show", "--name-only", "--format=", "HEAD") == "mine.txt"
    assert after.changes == Changes(staged=1)
    assert after.paths == {"theirs.txt"}


def test_push_stash_and_tag(tmp_path: Path) -> None:
    """push sends a refspec to a remote; stash saves and stash_pop restores tracked changes;
    tag returns the commit it tagged."""
    remote = GitRepo.init(tmp_path / "remote")
    git(tmp_path, "clone", "-q", str(remote.path), "work")
    work = GitRepo(tmp_path / "work")
    commit = work.commit({"a.txt": "a\n"})
    work.write({"README.md": "changed\n"})
    repo = Repo(work.path, timeout=30)

    async def scenario() -> tuple[str, bool, bool, str]:
        await repo.push("origin", ["HEAD:refs/heads/pushed"])
        stash = await repo.stash("test stash")
        clean = not (await repo.status()).changes.dirty
        popped = await repo.stash_pop()
        tagged = await repo.tag("v1", message="release")
        return stash, clean, popped, tagged

    stash, clean, popped, tagged = asyncio.run(scenario())
    assert git(remote.path, "rev-parse", "refs/heads/pushed") == commit
    assert len(stash) == 40
    assert clean
    assert popped
    assert (work.path / "README.md").read_text() == "changed\n"
    assert tagged == commit
    assert git(work.path, "cat-file", "-t", "v1") == "tag"


def test_status_of_named_paths_without_headers(tmp_path: Path) -> None:
    """status(paths=..., headers=False) reports only those paths (untracked ones by name)."""
    up = GitRepo.init(tmp_path / "r")
    up.write({"a/new.txt": "new\n", "b.txt": "other\n", "README.md": "edited\n"})
    found = asyncio.run(Repo(up.path).status(paths=["a/new.txt", "README.md"], headers=False))
    assert found.paths == {"a/new.txt", "README.md"}
    assert found.commit is None  # no headers asked for


def test_on_run_sees_each_successful_command(tmp_path: Path) -> None:
    """The on_run observer receives every git call that succeeded, with its argv."""
    up = GitRepo.init(tmp_path / "r")
    seen: list[GitResult] = []
    repo = Repo(up.path, on_run=seen.append)
    asyncio.run(repo.head())
    assert [r.argv for r in seen] == [("git", "rev-parse", "-q", "--verify", "HEAD")]


def test_the_repos_timeout_ends_a_hanging_git(tmp_path: Path) -> None:
    """A git that does not finish within the Repo's timeout is killed and raises GitError
    (a pre-commit hook that hangs stands in for a hung credential helper or server)."""
    up = GitRepo.init(tmp_path / "r")
    hook = up.path / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexec sleep 60\n")
    hook.chmod(0o755)
    up.write({"x.txt": "x\n"})
    repo = Repo(up.path, timeout=1)

    async def scenario() -> None:
        await repo.add(["x.txt"])
        await repo.commit("hangs")

    with pytest.raises(GitError, match="no answer after 1s"):
        asyncio.run(scenario())


def test_read_statuses_keeps_order_and_failures(tmp_path: Path) -> None:
    """read_statuses returns one status per path in order; a path git cannot read is a
    WorkFailed in its slot."""
    first = GitRepo.init(tmp_path / "one")
    first.write({"u.txt": "u\n"})
    second = GitRepo.init(tmp_path / "two", branch="dev")
    (tmp_path / "plain").mkdir()
    found = read_statuses([first.path, tmp_path / "plain", second.path], jobs=2, timeout=30)
    one, plain, two = found
    assert isinstance(one, GitStatus)
    assert one.changes.untracked == 1
    assert isinstance(plain, WorkFailed)
    assert isinstance(two, GitStatus)
    assert two.branch == "dev"
