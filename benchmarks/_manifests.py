"""The inputs every contender of the assembly benchmark reads: one per tool, same repos.

A :class:`Setup` names the repositories served for one size; the functions below write the
same workspace as a nestr manifest, a vcstool ``.repos`` file and a west workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from _common import run
from _gitdata import repo_name


@dataclass(frozen=True)
class Setup:
    """One size's inputs: repository URLs, manifests for each tool, and scratch space."""

    size: int
    url_base: str
    root: Path  # scratch space of this size
    env: dict[str, str]

    @property
    def names(self) -> list[str]:
        return [repo_name(i) for i in range(self.size)]

    def url(self, name: str) -> str:
        return f"{self.url_base}/{name}.git"


def nestr_manifest(setup: Setup, path: Path) -> Path:
    lines = ["version: 1", "remotes:", "  - name: bench", f"    url_base: {setup.url_base}"]
    lines += ["repos:"]
    for name in setup.names:
        lines += [
            f"  - name: {name}",
            "    remote: bench",
            f"    repo_path: {name}.git",
            "    revision: main",
            f"    path: repos/{name}",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def vcs_repos_file(setup: Setup, path: Path) -> Path:
    lines = ["repositories:"]
    for name in setup.names:
        lines += [f"  repos/{name}:", "    type: git", f"    url: {setup.url(name)}"]
        lines += ["    version: main"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def west_template(setup: Setup, topdir: Path) -> Path:
    """A west workspace (``.west/config`` + a manifest repository) before ``west update``."""
    manifest_dir = topdir / "manifest"
    manifest_dir.mkdir(parents=True)
    lines = ["manifest:", "  remotes:", "    - name: bench", f"      url-base: {setup.url_base}"]
    lines += ["  projects:"]
    for name in setup.names:
        lines += [f"    - name: {name}", "      remote: bench", f"      repo-path: {name}.git"]
        lines += ["      revision: main", f"      path: repos/{name}"]
    lines += ["  self:", "    path: manifest"]
    (manifest_dir / "west.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run(["git", "init", "-q"], cwd=manifest_dir, env=setup.env)
    run(["git", "add", "west.yml"], cwd=manifest_dir, env=setup.env)
    run(["git", "commit", "-q", "-m", "manifest"], cwd=manifest_dir, env=setup.env)
    (topdir / ".west").mkdir()
    (topdir / ".west" / "config").write_text(
        "[manifest]\npath = manifest\nfile = west.yml\n", encoding="utf-8"
    )
    return topdir
