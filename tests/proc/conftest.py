"""A small workspace on disk for running commands in: two git checkouts, a manifest, a record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nestr.manifest.model import RepoSpec
from nestr.testing import git
from nestr.workspace.record import Workspace, new_workspace_id, write_record


@dataclass(frozen=True)
class SmallWorkspace:
    workspace: Workspace
    repos: tuple[RepoSpec, ...]

    @property
    def root(self) -> Path:
        return self.workspace.root


@pytest.fixture
def small_workspace(tmp_path: Path) -> SmallWorkspace:
    """Repos ``a`` and ``b`` (empty git checkouts) in a recorded workspace with a manifest."""
    project = tmp_path / "project"
    project.mkdir()
    repos = tuple(
        RepoSpec(name=name, url=f"https://example.invalid/{name}.git", revision="main", path=name)
        for name in ("a", "b")
    )
    lines = ["version: 1", "repos:"]
    for spec in repos:
        lines += [f"  - name: {spec.name}", f"    url: {spec.url}", f"    path: {spec.path}"]
    manifest = project / "nestr.yaml"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    root = tmp_path / "ws"
    for spec in repos:
        (root / spec.path).mkdir(parents=True)
        git(root / spec.path, "init", "-q")
    workspace = Workspace(root, manifest, new_workspace_id(), datetime.now(UTC))
    write_record(workspace)
    return SmallWorkspace(workspace, repos)
