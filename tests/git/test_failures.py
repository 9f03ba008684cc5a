"""Failed git commands are told apart: the network is retried, the server's answer is final."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from nestr.errors import GitError
from nestr.events import EventBus
from nestr.git.failures import classify
from nestr.git.mirror import MirrorCache
from nestr.manifest.model import Manifest, RepoSpec
from nestr.testing import GitRepo, git
from nestr.workspace.assemble import AssembleOptions, assemble

CORRUPT_REMOTE = """\
remote: error: inflate: data stream error (incorrect header check)
remote: fatal: loose object f719efd4 (stored in ./objects/f7/19efd4) is corrupt
error: git upload-pack: git-pack-objects died with error.
remote: aborting due to possible repository corruption on the remote side.
fatal: early EOF
fatal: fetch-pack: invalid index-pack output
"""


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        ("fatal: unable to access 'https://h/x/': Could not resolve host: h", "transient"),
        ("fatal: unable to access 'https://h/x/': Connection reset by peer", "transient"),
        (
            "fatal: unable to access 'https://h/x/': Failed to connect: Connection refused",
            "transient",
        ),
        ("error: RPC failed; curl 18 transfer closed\nfatal: early EOF", "transient"),
        (
            "fatal: unable to access 'https://h/x/': The requested URL returned error: 502",
            "transient",
        ),
        ("fatal: the remote end hung up unexpectedly", "transient"),
        (
            "ssh: connect to host h port 22: Connection timed out\n"
            "fatal: Could not read from remote repository.",
            "transient",
        ),
        (CORRUPT_REMOTE, "remote"),
        ("remote: Repository not found.\nfatal: repository 'https://h/x/' not found", "remote"),
        (
            "git@h: Permission denied (publickey).\nfatal: Could not read from remote repository.",
            "remote",
        ),
        ("fatal: Could not read from remote repository.", "remote"),
        ("error: Server does not allow request for unadvertised object 0123", "remote"),
        ("fatal: remote error: upload-pack: not our ref 0123", "remote"),
        ("fatal: unable to access 'https://h/x/': The requested URL returned error: 403", "remote"),
        (
            "error: object file objects/ab/cd is empty\nfatal: loose object abcd is corrupt",
            "broken",
        ),
        ("fatal: not a git repository: '/c/m.git'", "broken"),
        ("error: pathspec 'x' did not match any file(s) known to git", "other"),
    ],
)
def test_failures_are_classified_by_who_failed(stderr: str, kind: str) -> None:
    """Only the network is transient; the server's answers are final; only our own lines say
    that the local repository is damaged."""
    assert classify(GitError(["git", "fetch"], 128, stderr)) == kind


def test_a_timeout_is_transient() -> None:
    """No answer at all is the network's doing."""
    assert classify(GitError(["git", "fetch"], None, "no answer after 5s")) == "transient"


@pytest.fixture
def git_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``git`` first on PATH that logs each call's arguments, then runs the real git."""
    real = shutil.which("git")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "git-calls.log"
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(real).parent}")
    log.touch()
    return log


def corrupt_remote(tmp_path: Path) -> tuple[GitRepo, Path]:
    """A work repo and a bare remote it pushes to (a push of a few objects stores them loose)."""
    work = GitRepo.init(tmp_path / "work")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    git(work.path, "push", "--quiet", str(remote), "main")
    return work, remote


def push_corrupt_commit(work: GitRepo, remote: Path) -> None:
    """Push a new commit to ``remote`` (stored loose there), then damage its new blob."""
    work.commit({"new.txt": "a blob the server cannot read\n"})
    git(work.path, "push", "--quiet", str(remote), "main")
    blob = git(remote, "rev-parse", "main:new.txt")
    loose = remote / "objects" / blob[:2] / blob[2:]
    loose.unlink()
    loose.write_bytes(b"garbage")


def remote_calls(log: Path, url: str) -> list[str]:
    return [line for line in log.read_text().splitlines() if url in line]


def test_corrupt_remote_fails_a_fetch_at_once_with_gits_message(
    tmp_path: Path, git_calls: Path
) -> None:
    """A server that aborts on its own corrupt repository is asked once: no retry, no rebuild."""
    work, remote = corrupt_remote(tmp_path)
    url = remote.as_uri()
    cache_dir = tmp_path / "cache"
    asyncio.run(MirrorCache(cache_dir).ensure(url))  # a warm mirror
    push_corrupt_commit(work, remote)
    manifest = Manifest(
        path=tmp_path / "nestr.yaml",
        repos=(RepoSpec(name="r", url=url, revision="main", path="r"),),
    )
    options = AssembleOptions(cache_dir=cache_dir, state_dir=tmp_path / "state", fetch_freshness=0)
    before = len(remote_calls(git_calls, url))
    result = asyncio.run(assemble(manifest, tmp_path / "ws", options, bus=EventBus()))
    [repo] = result.repos
    assert repo.status == "failed"
    assert "corruption on the remote side" in (repo.message or "")
    assert "not retried" in (repo.hint or "")
    fetches = remote_calls(git_calls, url)[before:]
    assert 1 <= len(fetches) <= 2, fetches
    assert not any(call.startswith("clone") for call in fetches)  # the mirror was not rebuilt


def test_corrupt_remote_fails_a_new_mirror_at_once(tmp_path: Path, git_calls: Path) -> None:
    """The first clone of a corrupt remote is tried once and leaves no mirror behind."""
    work, remote = corrupt_remote(tmp_path)
    push_corrupt_commit(work, remote)
    cache = MirrorCache(tmp_path / "cache")
    with pytest.raises(GitError, match="corruption on the remote side") as info:
        asyncio.run(cache.ensure(remote.as_uri()))
    assert classify(info.value) == "remote"
    assert len(remote_calls(git_calls, remote.as_uri())) == 1
    assert not cache.mirror(remote.as_uri()).path.exists()
