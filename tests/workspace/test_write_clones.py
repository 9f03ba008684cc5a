"""git.write_clones: off (or auto on a git version the tests have not covered), an assembly
makes its clones with ``git clone --shared`` and ends with the same repositories."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tests.workspace.assembly_helpers import Project, counting_git, make_project, upstream_templates

from nestr.config.settings import GitSettings, Settings
from nestr.events import EventBus
from nestr.git.mirror import mirror_name
from nestr.git.ondisk import WriteClonesSetting
from nestr.manifest.model import Manifest
from nestr.testing import git
from nestr.workspace.assemble import AssembleOptions, assemble
from nestr.workspace.repo_git import borrowed_from


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory), ("api", "web", "lib"))


def manifest_of(project: Project) -> Manifest:
    """A branch, a tag, a commit at a branch tip and a commit no ref points at."""
    lib = project.upstreams["lib"].path
    return project.manifest(
        project.spec("api"),
        project.spec("web", "v1-annotated"),
        project.spec("lib", git(lib, "rev-parse", "dev")),
        project.spec("lib", git(lib, "rev-parse", "main~2"), path="lib-old"),
    )


def assemble_into(project: Project, manifest: Manifest, ws: Path, **options: Any) -> None:
    opts = AssembleOptions(
        cache_dir=project.cache_dir, state_dir=project.state_dir, fetch_freshness=3600, **options
    )
    result = asyncio.run(assemble(manifest, ws, opts, bus=EventBus()))
    assert result.ok, [(r.name, r.message) for r in result.repos]


def snapshot(repo: Path) -> dict[str, object]:
    """What tells two workspace repos apart: HEAD, refs, origin, config, tree, borrowing."""
    refs = "%(refname) %(objectname) %(*objectname) %(symref) %(upstream)"
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "symbolic": git(repo, "rev-parse", "--symbolic-full-name", "HEAD"),
        "refs": git(repo, "for-each-ref", f"--format={refs}"),
        "origin": git(repo, "remote", "get-url", "origin"),
        "config": sorted(git(repo, "config", "--local", "--list").splitlines()),
        "status": git(repo, "status", "--porcelain=v2", "--branch", "--untracked-files=all"),
        "borrows": borrowed_from(repo),
    }


@pytest.mark.parametrize(
    ("setting", "version"),
    [(False, None), ("auto", "2.99.0")],
    ids=["write_clones=false", "auto on an uncovered git"],
)
def test_clones_come_from_git_clone_and_match_written_ones(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    setting: WriteClonesSetting,
    version: str | None,
) -> None:
    """Every new repo is a `git clone --shared` (no prototype, nothing written by nestr), and
    each equals the clone nestr writes with the switch on: HEAD, refs, origin URL, config,
    tree, and objects borrowed from the same mirror."""
    manifest = manifest_of(project)
    assemble_into(project, manifest, project.tmp / "written", write_clones=True)
    log = counting_git(project.tmp, monkeypatch)
    assemble_into(project, manifest, project.ws, write_clones=setting, git_version=version)
    calls = log.read_text().splitlines()
    assert sum(c.startswith("clone --quiet --shared") for c in calls) == 4, calls
    assert not [c for c in calls if c.startswith(("init", "var", "--version"))], calls
    for spec in manifest.repos:
        ours = snapshot(project.ws / spec.path)
        assert ours == snapshot(project.tmp / "written" / spec.path), spec.name
        assert ours["origin"] == spec.url
        mirror = project.cache_dir / "mirrors" / mirror_name(spec.url)
        assert ours["borrows"] == [(mirror / "objects").resolve()]


def test_auto_on_a_covered_git_writes_clones(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """auto on a covered git version writes clones: one `git init` prototype, no `git clone`."""
    manifest = manifest_of(project)
    assemble_into(project, manifest, project.tmp / "first")  # fills the cache
    log = counting_git(project.tmp, monkeypatch)
    assemble_into(project, manifest, project.ws, write_clones="auto", git_version="2.39.5")
    calls = log.read_text().splitlines()
    assert not [c for c in calls if c.startswith("clone")], calls
    assert sum(c.startswith("init --quiet") for c in calls) == 1, calls


def test_the_setting_reaches_the_assembly() -> None:
    """git.write_clones of the settings becomes the assembly's option (default auto)."""
    assert AssembleOptions.from_settings(Settings()).write_clones == "auto"
    settings = Settings(git=GitSettings(write_clones=False))
    assert AssembleOptions.from_settings(settings).write_clones is False
