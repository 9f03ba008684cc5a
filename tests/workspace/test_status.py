"""nestr.workspace.status: one git call per repo, read as branch, changes, upstream and drift."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from nestr.testing import git
from nestr.workspace.status import (
    Changes,
    parse_porcelain_v2,
    repo_status,
    workspace_status,
)

if TYPE_CHECKING:
    from conftest import HandmadeWorkspace


@pytest.fixture
def hw(handmade: Callable[..., HandmadeWorkspace]) -> HandmadeWorkspace:
    return handmade()


def status_of(hw: HandmadeWorkspace, jobs: int = 4):  # type: ignore[no-untyped-def]
    return workspace_status(hw.workspace, hw.manifest.repos, manifest=hw.manifest, jobs=jobs)


def test_parse_porcelain_counts_every_kind_of_entry() -> None:
    """Staged, unstaged, both, renamed (with its extra -z entry), conflicted and untracked paths
    are each counted where they belong, and the branch headers are read."""
    oid = "a" * 40
    entries = [
        f"# branch.oid {oid}",
        "# branch.head main",
        "# branch.upstream origin/main",
        "# branch.ab +2 -3",
        "1 M. N... 100644 100644 100644 aaa bbb staged.txt",
        "1 .M N... 100644 100644 100644 aaa bbb unstaged.txt",
        "1 MM N... 100644 100644 100644 aaa bbb both.txt",
        "2 R. N... 100644 100644 100644 aaa bbb R100 new name.txt",
        "old name.txt",
        "u UU N... 100644 100644 100644 100644 aaa bbb ccc conflict.txt",
        "? untracked one.txt",
        "? dir/",
    ]
    state = parse_porcelain_v2("\0".join(entries) + "\0")
    assert state.commit == oid
    assert state.branch == "main"
    assert state.upstream == "origin/main"
    assert (state.ahead, state.behind) == (2, 3)
    assert state.changes == Changes(staged=3, unstaged=2, untracked=2, conflicted=1)


def test_parse_porcelain_detached_and_unborn() -> None:
    """A detached HEAD has no branch; a repo without commits has no commit and no upstream."""
    detached = parse_porcelain_v2(f"# branch.oid {'b' * 40}\0# branch.head (detached)\0")
    assert detached.branch is None
    assert detached.commit == "b" * 40
    unborn = parse_porcelain_v2("# branch.oid (initial)\0# branch.head main\0")
    assert unborn.commit is None
    assert unborn.ahead is None
    assert not unborn.changes.dirty


def test_clean_workspace_reports_branch_commit_and_upstream(hw: HandmadeWorkspace) -> None:
    """Freshly cloned repos are on main at the origin's head, clean, level with origin/main."""
    report = status_of(hw)
    assert report.ok
    assert [r.name for r in report.repos] == ["api", "web", "lib"]
    for repo in report.repos:
        assert repo.state == "ok"
        assert repo.git is not None
        assert repo.git.branch == "main"
        assert repo.git.commit == hw.origins[repo.name].head()
        assert repo.git.upstream == "origin/main"
        assert (repo.git.ahead, repo.git.behind) == (0, 0)
        assert not repo.git.changes.dirty
        assert repo.lock_state is None


def test_dirty_counts_come_from_the_work_tree(hw: HandmadeWorkspace) -> None:
    """One staged, one unstaged and two untracked files in api are counted; web stays clean."""
    api = hw.repo("api")
    api.write({"README.md": "changed\n"})
    git(api.path, "add", "README.md")
    api.write({"a.txt": "edited\n", "new1.txt": "x", "new2.txt": "y"})
    by_name = {r.name: r for r in status_of(hw).repos}
    assert by_name["api"].git is not None
    assert by_name["api"].git.changes == Changes(staged=1, unstaged=1, untracked=2)
    assert by_name["api"].to_dict()["dirty"] is True
    assert by_name["web"].to_dict()["dirty"] is False


def test_ahead_and_behind_upstream(hw: HandmadeWorkspace) -> None:
    """A local commit makes web 1 ahead; two fetched origin commits make it 2 behind."""
    hw.repo("web").commit({"local.txt": "1"}, message="local")
    hw.origins["web"].history(2, file="remote.txt")
    git(hw.repo("web").path, "fetch", "-q")
    web = next(r for r in status_of(hw).repos if r.name == "web")
    assert web.git is not None
    assert (web.git.ahead, web.git.behind) == (1, 2)


def test_detached_head_at_a_tag(hw: HandmadeWorkspace) -> None:
    """A checkout of a tag reports detached with the tag's commit."""
    lib = hw.repo("lib")
    git(lib.path, "checkout", "-q", "--detach", "v1")
    status = next(r for r in status_of(hw).repos if r.name == "lib")
    assert status.git is not None
    assert status.git.branch is None
    assert status.git.commit == git(lib.path, "rev-parse", "v1^{commit}")
    assert status.to_dict()["detached"] is True


def test_missing_repo_is_reported_not_an_error(
    handmade: Callable[..., HandmadeWorkspace],
) -> None:
    """A repo that was never assembled is 'missing'; the report is still ok."""
    hw = handmade(clone=["api", "lib"])
    report = status_of(hw)
    states = {r.name: r.state for r in report.repos}
    assert states == {"api": "ok", "web": "missing", "lib": "ok"}
    assert report.ok


def test_unreadable_repo_is_an_error(hw: HandmadeWorkspace) -> None:
    """A checkout git cannot read (its .git points nowhere) is an error and the report not ok."""
    web_dir = hw.root / "src/web"
    shutil.rmtree(web_dir / ".git")
    (web_dir / ".git").write_text("gitdir: /nonexistent/gitdir\n", encoding="utf-8")
    report = status_of(hw)
    web = next(r for r in report.repos if r.name == "web")
    assert web.state == "error"
    assert web.error
    assert "git" in web.error
    assert not report.ok


def test_lock_states_match_drift_and_unlocked(hw: HandmadeWorkspace) -> None:
    """The locked commit is compared with HEAD: equal is match, different is drift, absent is
    unlocked; without a lock there is no lock state."""
    spec = hw.manifest.repo("api")
    head = hw.repo("api").head()

    def lock_state(locked):  # type: ignore[no-untyped-def]
        return repo_status(hw.workspace, spec, locked=locked).lock_state

    assert lock_state({"api": head}) == "match"
    assert lock_state({"api": "f" * 40}) == "drift"
    assert lock_state({}) == "unlocked"
    assert lock_state(None) is None


def test_one_git_process_per_repo(
    hw: HandmadeWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Status of three repos starts exactly three git processes (a logging git wrapper counts)."""
    real_git = shutil.which("git")
    assert real_git
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {real_git} "$@"\n', encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    report = status_of(hw)
    assert report.ok
    lines = calls.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert all("status --porcelain=v2" in line for line in lines)


def test_sequential_and_parallel_agree(hw: HandmadeWorkspace) -> None:
    """jobs=1 (sequential) and jobs=4 give the same report in manifest order."""
    hw.repo("lib").write({"x.txt": "x"})
    assert status_of(hw, jobs=1).to_dict() == status_of(hw, jobs=4).to_dict()


def test_each_repo_status_is_published_as_an_event(hw: HandmadeWorkspace) -> None:
    """With a bus, one nestr.workspace.status.repo event per repo carries its JSON entry."""
    from nestr.events import Event, EventBus

    bus = EventBus()
    events: list[Event] = []
    bus.add_listener(events.append)
    report = workspace_status(
        hw.workspace, hw.manifest.repos, manifest=hw.manifest, jobs=2, bus=bus
    )
    assert {e.type for e in events} == {"nestr.workspace.status.repo"}
    by_repo = {e.repo: e.data for e in events}
    assert by_repo == {r.name: r.to_dict() for r in report.repos}


def test_status_starts_no_helper_process(hw: HandmadeWorkspace) -> None:
    """status runs only read-only gits: it leaves them out of the process-group helper, so a
    `nestr status` process never pays for starting one (a fresh process, as a user's)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from nestr.cli.main import main\n"
        "from nestr.proc import groups as procgroups\n"
        "code = main(['status', '-m', sys.argv[1], '-w', sys.argv[2]])\n"
        "print(code, procgroups._GUARDIAN._fd is None)\n"
    )
    argv = [sys.executable, "-c", script, str(hw.manifest.path), str(hw.workspace.root)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert done.stdout.splitlines()[-1] == "0 True", done
