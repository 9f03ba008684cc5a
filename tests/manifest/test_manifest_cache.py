"""The repos of a manifest come from the input cache only while every file is unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nestr import inputcache
from nestr.errors import ManifestError
from nestr.manifest.cache import load_manifest_repos
from nestr.manifest.loader import load_manifest

ROOT = """\
version: 1
remotes:
  - {name: origin, url_base: https://git.example.com/team}
defaults: {remote: origin, revision: main}
group_filter: [-slow]
repos:
  - name: api
    groups: [backend]
    vars: {port: 8080, tags: [a, b]}
  - name: web
    path: apps/web
    clone: {depth: 1}
imports:
  - path: shared.yaml
"""
SHARED = """\
version: 1
repos:
  - name: tools
    url: https://git.example.com/tools.git
    groups: [slow]
"""


def _age(*paths: Path) -> None:
    """Set files' times a minute back, as for a manifest checked out earlier."""
    for path in paths:
        old = path.stat().st_mtime - 60
        os.utime(path, (old, old))


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    root = tmp_path / "nestr.yaml"
    root.write_text(ROOT, encoding="utf-8")
    (tmp_path / "shared.yaml").write_text(SHARED, encoding="utf-8")
    _age(root, tmp_path / "shared.yaml")
    return root


def _entries() -> list[Path]:
    return sorted(inputcache.cache_root().glob("manifest-*.json"))


def test_a_hit_returns_the_same_repos_as_the_full_loader(manifest: Path) -> None:
    """Repos, group filter and sources read back from the cache equal a fresh validation."""
    first = load_manifest_repos(manifest)
    assert len(_entries()) == 1
    second = load_manifest_repos(manifest)
    full = load_manifest(manifest)
    assert second.repos == full.repos == first.repos
    assert second.group_filter == full.group_filter
    assert second.sources == full.sources == (manifest, manifest.parent / "shared.yaml")
    assert [r.active for r in second.repos] == [True, True, False]
    assert second.document is None
    assert second.workflows == {}


def test_a_hit_imports_neither_yaml_nor_pydantic(manifest: Path) -> None:
    """A second process reading the unchanged manifest loads it without YAML or pydantic."""
    load_manifest_repos(manifest)
    code = (
        "import sys; from pathlib import Path;"
        "from nestr.manifest.cache import load_manifest_repos;"
        f"m = load_manifest_repos(Path({str(manifest)!r}));"
        "print(len(m.repos), 'yaml' in sys.modules, 'pydantic' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["3", "False", "False"]


def test_editing_an_imported_file_is_seen(manifest: Path) -> None:
    """A change in an import (not the root) invalidates the entry."""
    load_manifest_repos(manifest)
    shared = manifest.parent / "shared.yaml"
    shared.write_text(SHARED.replace("groups: [slow]", "groups: [fast]"), encoding="utf-8")
    repos = load_manifest_repos(manifest).repos
    assert repos[-1].groups == ("fast",)
    assert repos[-1].active


def test_a_manifest_broken_after_caching_is_reported(manifest: Path) -> None:
    """An edit that breaks the manifest gives the loader's located error, never stale repos."""
    load_manifest_repos(manifest)
    manifest.write_text(ROOT.replace("path: apps/web", "path: ../web"), encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest_repos(manifest)
    assert caught.value.location.line == 11


def test_a_rewrite_in_the_same_instant_is_seen(tmp_path: Path) -> None:
    """A manifest rewritten right after it was cached, with the same size, is read again."""
    root = tmp_path / "nestr.yaml"
    root.write_text("version: 1\nrepos:\n  - {name: a, url: https://x/a.git}\n", encoding="utf-8")
    assert [r.name for r in load_manifest_repos(root).repos] == ["a"]
    assert len(_entries()) == 1
    root.write_text("version: 1\nrepos:\n  - {name: b, url: https://x/b.git}\n", encoding="utf-8")
    assert [r.name for r in load_manifest_repos(root).repos] == ["b"]


def test_the_cache_can_be_turned_off(manifest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NESTR_NO_INPUT_CACHE=1 means no entry is written or read."""
    monkeypatch.setenv(inputcache.DISABLE_ENV, "1")
    load_manifest_repos(manifest)
    assert _entries() == []


def test_a_corrupt_entry_is_ignored(manifest: Path) -> None:
    """An entry that is not JSON, or of another shape, leads to the full loader."""
    load_manifest_repos(manifest)
    [entry] = _entries()
    entry.write_text("{not json", encoding="utf-8")
    assert len(load_manifest_repos(manifest).repos) == 3
    text = entry.read_text(encoding="utf-8")
    entry.write_text(text.replace('"repos"', '"ropes"'), encoding="utf-8")
    assert len(load_manifest_repos(manifest).repos) == 3
