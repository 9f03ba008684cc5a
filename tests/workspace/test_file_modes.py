"""Files nestr writes for people to share get the mode a plain write gives them (umask)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

UMASK_MODES = [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)]


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory), names=("api",))


@pytest.fixture(params=UMASK_MODES, ids=lambda p: f"umask-{p[0]:03o}")
def umask_mode(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under a umask; yields the mode a new file should get."""
    umask, expected = request.param
    old = os.umask(umask)
    try:
        yield expected
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_lock_file_mode_follows_the_umask(project: Project, nestr: Any, umask_mode: int) -> None:
    """nestr.lock is written atomically yet gets 0666 & ~umask, not mkstemp's 0600."""
    manifest = project.manifest(project.spec("api"))
    assert nestr("lock", "-m", str(manifest.path)).code == 0
    assert mode(manifest.root / "nestr.lock") == umask_mode


def test_manifest_import_and_export_files_follow_the_umask(
    project: Project, nestr: Any, cwd: Path, umask_mode: int
) -> None:
    """`manifest import -o` and `manifest export -o` create files as a plain write would."""
    manifest = project.manifest(project.spec("api"))
    export = nestr(
        "manifest", "export", "--to", "vcstool", "-m", str(manifest.path), "-o", "a.repos"
    )
    assert export.code == 0, export.err
    assert mode(cwd / "a.repos") == umask_mode
    imported = nestr("manifest", "import", "--from", "vcstool", "a.repos", "-o", "nestr.yaml")
    assert imported.code == 0, imported.err
    assert mode(cwd / "nestr.yaml") == umask_mode


def test_rewriting_a_lock_keeps_the_mode_the_user_gave_it(project: Project, nestr: Any) -> None:
    """An existing nestr.lock keeps its mode when nestr lock replaces it."""
    manifest = project.manifest(project.spec("api"))
    assert nestr("lock", "-m", str(manifest.path)).code == 0
    (manifest.root / "nestr.lock").chmod(0o640)
    project.manifest(project.spec("api", "dev"))
    assert nestr("lock", "-m", str(manifest.path)).code == 0
    assert "revision: dev" in (manifest.root / "nestr.lock").read_text()
    assert mode(manifest.root / "nestr.lock") == 0o640
