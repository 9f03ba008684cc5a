"""A move that git was killed in the middle of is finished by the next assembly.

git is killed deterministically half-way through its checkout: a smudge filter (git runs it
for each file it writes) SIGKILLs git's whole process group at the fourth file, which leaves
exactly what a killed tree leaves: the old HEAD, some files of the new revision, and a stale
``.git/index.lock``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

from nestr.manifest.model import Manifest
from nestr.testing import git
from nestr.workspace import switching

KILLER = """#!/bin/sh
# smudge filter: pass the content through; at the 4th file of the first checkout, kill git's
# process group (git, and this filter) with SIGKILL
count=$(cat "{count}" 2>/dev/null || echo 0)
count=$((count + 1))
echo "$count" > "{count}"
if [ "$count" -eq 4 ]; then
  kill -9 -$(ps -o pgid= $$ | tr -d ' ')
fi
exec cat
"""


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory))


def kill_next_checkout(project: Project, repo: Path) -> None:
    """Make git die half-way through the next checkout in ``repo``."""
    script = project.tmp / "killer.sh"
    script.write_text(KILLER.format(count=project.tmp / "smudged"), encoding="utf-8")
    script.chmod(0o700)
    git(repo, "config", "filter.killer.smudge", str(script))
    (repo / ".git" / "info" / "attributes").write_text("* filter=killer\n", encoding="utf-8")


@pytest.fixture
def killed(project: Project) -> tuple[Manifest, str]:
    """api assembled at v1, then moved to main, and git killed half-way through that move."""
    target = project.upstreams["api"].commit({f"f{i}.txt": f"file {i}\n" for i in range(10)})
    assert project.assemble(project.manifest(project.spec("api", "v1"))).ok
    repo = project.ws / "api"
    kill_next_checkout(project, repo)
    manifest = project.manifest(project.spec("api", "main"))
    first = project.assemble(manifest).repos[0]
    assert first.status == "failed"
    assert "index.lock exists" in (first.hint or "")
    assert (repo / ".git" / "index.lock").exists()
    assert switching.read(repo) is not None
    assert git(repo, "status", "--porcelain")  # half-switched: seen as changes
    return manifest, target


def test_killed_move_is_finished_by_the_next_assembly(
    project: Project, killed: tuple[Manifest, str]
) -> None:
    """The re-run removes the stale lock and finishes the checkout: clean, at the target."""
    manifest, target = killed
    repo = project.ws / "api"
    result = project.assemble(manifest).repos[0]
    assert result.ok, result
    assert "finished an interrupted move" in (result.message or "")
    assert git(repo, "rev-parse", "HEAD") == target
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(repo, "rev-parse", "--abbrev-ref", "main@{upstream}") == "origin/main"
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / ".git" / "index.lock").exists()
    assert switching.read(repo) is None
    assert project.assemble(manifest).repos[0].status == "unchanged"


def test_changes_stashed_before_a_killed_move_stay_in_the_stash(project: Project) -> None:
    """With --stash, the user's edit is stashed before the move; after the kill and the
    finishing re-run it is still in that stash, and the result says so."""
    project.upstreams["api"].commit({f"f{i}.txt": f"file {i}\n" for i in range(10)})
    assert project.assemble(project.manifest(project.spec("api", "v1"))).ok
    repo = project.ws / "api"
    (repo / "a.txt").write_text("my edit\n", encoding="utf-8")
    kill_next_checkout(project, repo)
    manifest = project.manifest(project.spec("api", "main"))
    assert project.assemble(manifest, stash=True).repos[0].status == "failed"
    result = project.assemble(manifest).repos[0]
    assert result.ok, result
    stash = git(repo, "rev-parse", "refs/stash")
    assert f"local changes are in stash {stash[:12]}" in (result.message or "")
    assert git(repo, "show", "refs/stash:a.txt") == "my edit"


def test_killed_move_is_left_alone_while_a_process_still_works_in_the_repo(
    project: Project, killed: tuple[Manifest, str]
) -> None:
    """A git process in the repo (one that outlived nestr) means the lock may be live: wait."""
    manifest, _ = killed
    repo = project.ws / "api"
    # a git that waits for its input until the test closes it
    hash_object = ["git", "hash-object", "--stdin"]
    with subprocess.Popen(
        hash_object, cwd=repo, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    ) as busy:
        try:
            result = project.assemble(manifest).repos[0]
        finally:
            busy.kill()
    assert result.status == "failed"
    assert f"git process {busy.pid} still works in it" in (result.message or "")
    assert (repo / ".git" / "index.lock").exists()
    assert project.assemble(manifest).repos[0].ok


def test_marker_without_lock_is_dropped_and_the_repo_planned_as_usual(project: Project) -> None:
    """No index.lock: git finished (or never started); nothing is forced, the marker goes."""
    manifest = project.manifest(project.spec("api", "v1"))
    assert project.assemble(manifest).ok
    repo = project.ws / "api"
    (repo / "a.txt").write_text("my edit\n", encoding="utf-8")
    switching.begin(repo, switching.Switch(project.upstreams["api"].head(), "main"))
    result = project.assemble(project.manifest(project.spec("api", "main"))).repos[0]
    assert result.status == "refused"
    assert result.message == "uncommitted changes"
    assert (repo / "a.txt").read_text(encoding="utf-8") == "my edit\n"
    assert switching.read(repo) is None


def test_a_shell_open_in_the_repo_does_not_block_finishing(
    project: Project, killed: tuple[Manifest, str]
) -> None:
    """Only git processes count: a user's shell sitting in the repo is not git."""
    manifest, target = killed
    repo = project.ws / "api"
    with subprocess.Popen(["sleep", "60"], cwd=repo) as shell:
        try:
            result = project.assemble(manifest).repos[0]
        finally:
            shell.kill()
    assert result.ok, result
    assert git(repo, "rev-parse", "HEAD") == target


def test_lock_older_than_the_marker_is_not_forced_away(project: Project) -> None:
    """An index.lock from before nestr's move is not nestr's: it is reported, not removed."""
    manifest = project.manifest(project.spec("api", "v1"))
    assert project.assemble(manifest).ok
    repo = project.ws / "api"
    lock = repo / ".git" / "index.lock"
    lock.write_bytes(b"")
    switching.begin(repo, switching.Switch(project.upstreams["api"].head(), "main"))
    old = switching.marker_path(repo).stat().st_mtime_ns - 10**9
    os.utime(lock, ns=(old, old))
    result = project.assemble(project.manifest(project.spec("api", "main"))).repos[0]
    assert result.status == "failed"
    assert "index.lock exists" in (result.hint or "")
    assert lock.exists()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"target": "--upload-pack=x"}',
        '{"target": "' + "a" * 40 + '", "branch": "-x"}',
        '{"target": "' + "a" * 40 + '", "unknown": 1}',
    ],
)
def test_marker_nestr_did_not_write_is_dropped(tmp_path: Path, text: str) -> None:
    """A marker that is not whole, or names no commit, is removed and nothing is finished."""
    (tmp_path / ".git").mkdir()
    switching.marker_path(tmp_path).write_text(text, encoding="utf-8")
    assert switching.read(tmp_path) is None
    assert not switching.marker_path(tmp_path).exists()
