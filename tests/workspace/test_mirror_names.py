"""The mirror directory names that docs/workspaces.md describes are the ones on disk."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path

import pytest
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

from nestr.events import EventBus
from nestr.manifest.model import RepoSpec
from nestr.workspace.assemble import AssembleOptions, assemble


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory), names=("api",))


def documented_name(url: str, tail: str) -> str:
    """`<tail>-<first 10 hex digits of sha256(url)>.git`, as the docs spell it out."""
    return f"{tail}-{hashlib.sha256(url.encode()).hexdigest()[:10]}.git"


def test_mirror_is_named_after_the_url_tail_and_its_hash(project: Project) -> None:
    """Repos named unlike their URL get mirrors named after the URL's last part (sanitised,
    without .git) and its hash, with the lock file and metadata beside/inside as documented."""
    odd = project.tmp / "up" / "Odd name+v2.git"
    shutil.copytree(project.upstreams["api"].path, odd, symlinks=True)
    backend = RepoSpec(name="backend", url=project.upstreams["api"].url, revision="main", path="b")
    other = RepoSpec(name="other", url=odd.as_uri(), revision="main", path="o")
    manifest = project.manifest(backend, other)
    options = AssembleOptions(cache_dir=project.cache_dir, state_dir=project.state_dir)
    assert asyncio.run(assemble(manifest, project.ws, options, bus=EventBus())).ok
    mirrors = project.cache_dir / "mirrors"
    assert other.url.endswith("/Odd%20name%2Bv2.git")  # a file: URL escapes the blank and +
    expected = {documented_name(backend.url, "api"), documented_name(other.url, "Odd-20name-2Bv2")}
    assert {p.name for p in mirrors.iterdir() if p.suffix == ".git"} == expected
    for name in expected:
        assert (mirrors / name / "nestr-mirror.json").is_file()
        assert (mirrors / f"{name}.lock").exists()
