"""Clones written by nestr match what ``git clone --shared`` makes, ref for ref, file for file."""

from __future__ import annotations

import asyncio
import shutil
import stat
from pathlib import Path

import pytest

from nestr.git.localclone import (
    MirrorRefs,
    make_prototype,
    packed_refs_text,
    read_mirror_refs,
)
from nestr.git.mirror import Mirror
from nestr.git.ondisk import plain_repository
from nestr.git.refs import PackedRef, Resolved
from nestr.testing import GitRepo, git
from nestr.workspace.repo_git import clone_from_mirror

URL = "https://git.example.com/team/app.git"
_TEMPLATE: dict[str, Path] = {}


@pytest.fixture
def mirror(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mirror as nestr makes it (packed refs), then fetched again (some refs loose).

    Branches main, dev and feature/x; a light tag, an annotated tag, a branch and a tag both
    named ``twin``; after the fetch, a new commit on main and a new annotated tag, both loose.
    """
    if "mirror" not in _TEMPLATE:
        base = tmp_path_factory.mktemp("localclone")
        up = GitRepo.init(base / "up", files={"README.md": "# app\n", "bin/run": "#!/bin/sh\n"})
        up.history(3)
        up.tag("light")
        up.tag("annotated", annotated=True)
        up.branch("dev", start="HEAD~1")
        up.branch("feature/x", start="HEAD~2")
        up.tag("twin", ref="HEAD~1")
        up.branch("twin", start="HEAD~2")
        mirror = base / "mirror.git"
        git(base, "clone", "--bare", "--quiet", str(up.path), str(mirror))
        up.commit({"new.txt": "new\n"})
        up.tag("later", annotated=True)
        refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
        git(mirror, "fetch", "--quiet", str(up.path), *refspecs)
        _TEMPLATE["mirror"] = mirror
    shutil.copytree(_TEMPLATE["mirror"], tmp_path / "mirror.git", symlinks=True)
    return tmp_path / "mirror.git"


def clone(mirror: Path, dest: Path, target: Resolved, *, write_clones: bool) -> Path:
    """Clone as an assembly does with ``git.write_clones`` on (written by nestr from a
    prototype) or off (``git clone --shared`` and git commands only)."""

    async def run() -> None:
        proto = await make_prototype(dest.parent / "proto", timeout=30) if write_clones else None
        assert proto is not None or not write_clones
        await clone_from_mirror(
            Mirror(URL, mirror),
            dest,
            target,
            url=URL,
            dissociate=False,
            timeout=30,
            prototype=proto,
            write_files=write_clones,
        )

    asyncio.run(run())
    return dest


def git_clone_edited(mirror: Path, dest: Path, target: Resolved) -> Path:
    """``git clone --shared`` whose HEAD and origin URL nestr then rewrites in place (what
    ``git.write_clones`` on does where it cannot write the whole clone: a shallow mirror)."""
    asyncio.run(
        clone_from_mirror(Mirror(URL, mirror), dest, target, url=URL, dissociate=False, timeout=30)
    )
    return dest


def snapshot(repo: Path) -> dict[str, object]:
    """Everything a user or git could tell apart between two clones of the same mirror."""
    refs = "%(refname) %(objectname) %(*objectname) %(symref) %(upstream)"
    return {
        "refs": git(repo, "for-each-ref", f"--format={refs}"),
        "head": git(repo, "rev-parse", "HEAD"),
        "symbolic": git(repo, "rev-parse", "--symbolic-full-name", "HEAD"),
        "config": sorted(git(repo, "config", "--local", "--list").splitlines()),
        "status": git(repo, "status", "--porcelain=v2", "--branch", "--untracked-files=all"),
        "index": git(repo, "ls-files", "--stage"),
        "files": sorted(
            p.relative_to(repo).as_posix() for p in repo.rglob("*") if ".git" not in p.parts
        ),
        "alternates": (repo / ".git" / "objects" / "info" / "alternates").read_text(),
        "reflog": git(repo, "reflog", "-1", "--format=%H"),
        "dirs": sorted(p.name for p in (repo / ".git").iterdir() if p.name != "index"),
    }


def commit_of(mirror: Path, rev: str) -> str:
    return git(mirror, "rev-parse", f"{rev}^{{commit}}")


TARGETS = {
    "branch": lambda m: Resolved("main", "branch", "refs/heads/main", commit_of(m, "main")),
    "branch with a slash": lambda m: Resolved(
        "feature/x", "branch", "refs/heads/feature/x", commit_of(m, "feature/x")
    ),
    "light tag": lambda m: Resolved("light", "tag", "refs/tags/light", commit_of(m, "light")),
    "annotated tag": lambda m: Resolved(
        "annotated", "tag", "refs/tags/annotated", commit_of(m, "annotated")
    ),
    "loose annotated tag": lambda m: Resolved(
        "later", "tag", "refs/tags/later", commit_of(m, "later")
    ),
    "tag shadowed by a branch": lambda m: Resolved(
        "twin", "tag", "refs/tags/twin", commit_of(m, "refs/tags/twin")
    ),
    "commit at a branch tip": lambda m: Resolved("dev", "commit", None, commit_of(m, "dev")),
    "commit at a tag only": lambda m: Resolved("main", "commit", None, commit_of(m, "light")),
    "commit at no tip": lambda m: Resolved("main", "commit", None, commit_of(m, "main~3")),
}


@pytest.mark.parametrize("write_clones", [True, False], ids=["write_clones", "git_only"])
@pytest.mark.parametrize("case", sorted(TARGETS))
def test_written_clone_matches_git_clone(
    mirror: Path, tmp_path: Path, case: str, write_clones: bool
) -> None:
    """For every kind of target, the clone each git.write_clones setting makes equals the one
    git's commands alone make (clone --shared, checkout, remote set-url): refs, HEAD, config,
    index, tree, borrowed objects. So does git clone with nestr's in-place edits."""
    target = TARGETS[case](mirror)
    ours = clone(mirror, tmp_path / "ours", target, write_clones=write_clones)
    reference = snapshot(clone(mirror, tmp_path / "git", target, write_clones=False))
    mine = snapshot(ours)
    assert mine["head"] == target.commit
    assert mine == reference
    assert snapshot(git_clone_edited(mirror, tmp_path / "edited", target)) == reference
    if write_clones:
        assert git(ours, "reflog", "--format=%gs") == f"clone: from {mirror}"
    assert git(ours, "fsck", "--no-progress", "--strict") == ""


def test_hooks_of_the_users_templates_are_copied_and_run(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post-checkout hook of the user's templates is in the clone and ran; samples are not."""
    templates = tmp_path / "templates"
    (templates / "hooks").mkdir(parents=True)
    hook = templates / "hooks" / "post-checkout"
    hook.write_text('#!/bin/sh\necho "$3" > "$(git rev-parse --git-dir)/checked-out"\n')
    hook.chmod(0o755)
    (templates / "hooks" / "pre-commit.sample").write_text("#!/bin/sh\n")
    for key, value in {
        "COUNT": "1",
        "KEY_0": "init.templateDir",
        "VALUE_0": str(templates),
    }.items():
        monkeypatch.setenv(f"GIT_CONFIG_{key}", value)
    repo = clone(mirror, tmp_path / "ours", TARGETS["branch"](mirror), write_clones=True)
    copied = repo / ".git" / "hooks" / "post-checkout"
    assert stat.S_IMODE(copied.stat().st_mode) & 0o111
    assert (repo / ".git" / "checked-out").read_text() == "1\n"  # a branch checkout ran it
    assert not (repo / ".git" / "hooks" / "pre-commit.sample").exists()


def test_repositories_with_extensions_are_not_written(tmp_path: Path) -> None:
    """A SHA-256 or reftable repository's config is not one nestr writes (git clone does)."""
    git(tmp_path, "init", "--quiet", "--object-format=sha256", "sha")
    git(tmp_path, "init", "--quiet", "sha1")
    assert not plain_repository((tmp_path / "sha" / ".git" / "config").read_text())
    assert plain_repository((tmp_path / "sha1" / ".git" / "config").read_text())
    reftable = "[core]\n\trepositoryformatversion = 1\n[extensions]\n\trefStorage = reftable\n"
    assert not plain_repository(reftable)
    assert not plain_repository("[core]\n\trepositoryformatversion = 1\n")


def test_unusual_mirrors_are_left_to_git(mirror: Path) -> None:
    """A symbolic loose ref or a shallow mirror makes nestr fall back to git clone; lock files
    are not refs."""
    assert read_mirror_refs(mirror) is not None
    alias = mirror / "refs" / "heads" / "alias"
    alias.write_text("ref: refs/heads/main\n")
    assert read_mirror_refs(mirror) is None
    alias.unlink()
    (mirror / "refs" / "heads" / "main.lock").write_text(commit_of(mirror, "dev") + "\n")
    refs = read_mirror_refs(mirror)
    assert refs is not None
    assert "refs/heads/main.lock" not in refs.refs  # a fetch killed mid-way left it
    (mirror / "shallow").write_text(commit_of(mirror, "main") + "\n")
    assert read_mirror_refs(mirror) is None


def test_loose_refs_override_packed_ones(mirror: Path) -> None:
    """After a fetch, the loose (newer) value of a branch wins over its packed one."""
    refs = read_mirror_refs(mirror)
    assert refs is not None
    assert refs.branch_commit("main") == commit_of(mirror, "main")
    assert refs.head_branch == "main"
    assert refs.tips()["refs/tags/annotated"] == commit_of(mirror, "annotated")
    assert "refs/tags/later" not in refs.tips()  # loose and annotated: not known without git


def test_packed_refs_claim_full_peeling_only_when_true() -> None:
    """fully-peeled is written only when every ref's peeled state is known."""
    known = MirrorRefs({"refs/heads/main": PackedRef("a" * 40, None, True)}, "main")
    loose = MirrorRefs({**known.refs, "refs/tags/t": PackedRef("b" * 40)}, "main")
    assert packed_refs_text(known).startswith("# pack-refs with: peeled fully-peeled sorted \n")
    assert packed_refs_text(loose).startswith("# pack-refs with: sorted \n")
    assert packed_refs_text(loose).splitlines()[1:] == [
        f"{'a' * 40} refs/remotes/origin/main",
        f"{'b' * 40} refs/tags/t",
    ]
