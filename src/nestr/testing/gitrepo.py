"""Build real git repositories with history, branches and tags, for tests."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nestr.git.runner import git_env


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` (blocking) and return its stripped stdout; raise on failure."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=git_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{proc.stderr}")
    return proc.stdout.strip()


@dataclass(frozen=True)
class GitRepo:
    """A real repository on disk with helpers to grow its history."""

    path: Path

    @classmethod
    def init(
        cls,
        path: Path,
        *,
        files: Mapping[str, str] | None = None,
        branch: str = "main",
        bare_remote_ok: bool = True,
    ) -> GitRepo:
        """``git init`` at ``path`` with a first commit of ``files`` (a README by default)."""
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", branch)
        if bare_remote_ok:
            # Lets tests push to this non-bare repo as if it were a remote (all-repos does this).
            git(path, "config", "receive.denyCurrentBranch", "updateInstead")
        repo = cls(path)
        repo.commit(files or {"README.md": f"# {path.name}\n"}, message="initial commit")
        return repo

    def write(self, files: Mapping[str, str | bytes | None]) -> None:
        """Write (or with None delete) files in the work tree without committing."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink(missing_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")

    def commit(self, files: Mapping[str, str | bytes | None], *, message: str = "change") -> str:
        """Write ``files``, commit them all, and return the new commit id."""
        self.write(files)
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def history(self, count: int, *, file: str = "history.txt") -> str:
        """Add ``count`` commits, each appending a line to ``file``; returns the last commit."""
        target = self.path / file
        for i in range(count):
            with target.open("a", encoding="utf-8") as handle:
                handle.write(f"line {i}\n")
            git(self.path, "add", file)
            git(self.path, "commit", "-q", "-m", f"history {i}")
        return self.head()

    def branch(self, name: str, *, start: str = "HEAD") -> None:
        git(self.path, "branch", name, start)

    def checkout(self, name: str) -> None:
        git(self.path, "checkout", "-q", name)

    def tag(self, name: str, *, ref: str = "HEAD", annotated: bool = False) -> None:
        if annotated:
            git(self.path, "tag", "-a", name, "-m", name, ref)
        else:
            git(self.path, "tag", name, ref)

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")

    def current_branch(self) -> str:
        return git(self.path, "symbolic-ref", "--short", "-q", "HEAD")

    def is_dirty(self) -> bool:
        return bool(git(self.path, "status", "--porcelain"))

    @property
    def url(self) -> str:
        return self.path.as_uri()
