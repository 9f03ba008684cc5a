"""west imports are followed as west follows them: self imports, project imports read through the
mirror cache at the project's revision, import maps, precedence; compared with west itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from nestr.errors import ManifestError
from nestr.git.mirror import MirrorCache
from nestr.manifest.importers import import_file
from nestr.manifest.loader import load_manifest_text
from nestr.manifest.model import Manifest
from nestr.manifest.writer import dump_yaml
from nestr.testing import GitRepo, git
from nestr.workspace.projectfiles import MirrorProjectFiles

# read at import: the isolation fixture drops NESTR_* variables before each test runs
WEST = os.environ.get("NESTR_TEST_WEST") or shutil.which("west")

LIB_WEST = """\
manifest:
  remotes: [{{name: up, url-base: '{base}'}}]
  defaults: {{remote: up, revision: main}}
  group-filter: [-optional]
  projects:
    - {{name: dep-a, path: deps/a}}
    - {{name: dep-b}}
    - {{name: hal, revision: v1, groups: [optional]}}
    - {{name: app, revision: v1}}
    - {{name: sdk, import: true}}
"""
SDK_WEST = """\
manifest:
  projects:
    - {{name: tool, url: '{base}/tool', revision: main}}
    - {{name: dep-a, url: '{base}/dep-b'}}
"""
TOP_WEST = """\
manifest:
  remotes: [{{name: up, url-base: '{base}'}}]
  defaults: {{remote: up, revision: main}}
  self:
    path: manifest
    import: submanifests
  projects:
    - {{name: app}}
    - name: lib
      revision: v2
      import:
        file: west.yml
        name-allowlist: [dep-a, hal, sdk, app, tool]
        path-prefix: ext
"""
EXTRA_WEST = """\
manifest:
  defaults: {{revision: v1}}
  remotes: [{{name: other, url-base: '{base}'}}]
  projects:
    - {{name: extra, remote: other, repo-path: dep-b, path: third/extra}}
"""


def _repo(up: Path, name: str, files: dict[str, str] | None = None) -> GitRepo:
    repo = GitRepo.init(up / name, files=files or {"README.md": f"# {name}\n"})
    repo.tag("v1")
    return repo


@pytest.fixture
def workspace_src(tmp_path: Path) -> Path:
    """Upstreams under ``up/`` and a manifest repository whose west.yml imports them."""
    up = tmp_path / "up"
    base = up.as_uri()
    for name in ("dep-a", "dep-b", "hal", "app", "tool"):
        _repo(up, name)
    _repo(up, "sdk", {"west.yml": SDK_WEST.format(base=base)})
    lib = _repo(up, "lib", {"west.yml": "manifest: {projects: []}\n"})
    lib.commit({"west.yml": LIB_WEST.format(base=base)})
    lib.tag("v2")
    lib.commit({"west.yml": "manifest: {projects: [{name: later, url: x}]}\n"})  # after v2
    top = tmp_path / "topdir" / "manifest"
    GitRepo.init(
        top,
        files={
            "west.yml": TOP_WEST.format(base=base),
            "submanifests/01-extra.yml": EXTRA_WEST.format(base=base),
            "submanifests/README.md": "not a manifest\n",
        },
    )
    return top / "west.yml"


def resolve(path: Path, cache_dir: Path) -> tuple[Manifest, tuple[str, ...]]:
    result = import_file("west", path, MirrorProjectFiles(MirrorCache(cache_dir)))
    loaded = load_manifest_text(dump_yaml(result.data), path.parent / "nestr.yaml")
    return loaded, result.warnings


def facts(manifest: Manifest) -> dict[str, tuple[str, str, str, bool]]:
    return {r.name: (r.url, r.revision, r.path, r.active) for r in manifest.repos}


def test_self_and_project_imports_follow_west(workspace_src: Path, tmp_path: Path) -> None:
    """Self imports first, then own projects, then project imports at the pinned revision,
    filtered by the composed allowlist and moved by the path prefix; first name wins."""
    manifest, warnings = resolve(workspace_src, tmp_path / "cache")
    base = (tmp_path / "up").as_uri()
    assert [r.name for r in manifest.repos] == [
        "extra",
        "app",
        "lib",
        "dep-a",
        "hal",
        "sdk",
        "tool",
    ]
    assert facts(manifest) == {
        "extra": (f"{base}/dep-b", "v1", "third/extra", True),
        "app": (f"{base}/app", "main", "app", True),  # the importing manifest's app wins
        "lib": (f"{base}/lib", "v2", "ext/lib", True),
        "dep-a": (f"{base}/dep-a", "main", "ext/deps/a", True),  # lib's, not sdk's
        "hal": (f"{base}/hal", "v1", "ext/hal", False),  # lib's group-filter: -optional
        "sdk": (f"{base}/sdk", "main", "ext/sdk", True),
        "tool": (f"{base}/tool", "main", "ext/tool", True),  # allowlist applies transitively
    }
    assert manifest.group_filter == ("-optional",)
    assert [w.split(": ", 2)[1] for w in warnings] == ["manifest.self.path"]


def test_unresolvable_imports_are_located_errors(workspace_src: Path, tmp_path: Path) -> None:
    """A missing file, a revision the project lacks and a cycle each name the import's line."""
    text = workspace_src.read_text()
    cases = [
        (text.replace("file: west.yml", "file: nope.yml"), "no file or directory 'nope.yml'"),
        (text.replace("revision: v2", "revision: v9"), "revision 'v9' not found"),
        (text.replace("import: submanifests", "import: west.yml"), "import cycle"),
        (text.replace("import: submanifests", "import: ../../up"), "leaves the repository"),
    ]
    for changed, message in cases:
        workspace_src.write_text(changed)
        with pytest.raises(ManifestError, match=message) as info:
            resolve(workspace_src, tmp_path / "cache")
        assert info.value.location is not None
        assert info.value.location.file == workspace_src
        assert info.value.field is not None
        assert "import" in info.value.field


def test_without_a_reader_project_imports_are_reported(workspace_src: Path) -> None:
    """The library call without a mirror cache follows self imports and names project imports."""
    result = import_file("west", workspace_src)
    assert [r["name"] for r in result.data["repos"]] == ["extra", "app", "lib"]
    assert any("project 'lib' import: not imported" in w for w in result.warnings)


def test_cli_import_follows_project_imports(workspace_src: Path, nestr: Any) -> None:
    """`nestr manifest import --from west` reads project imports through the mirror cache."""
    out = workspace_src.parent / "nestr.yaml"
    result = nestr("manifest", "import", "--from", "west", str(workspace_src), "-o", str(out))
    assert result.code == 0, result.err
    names = [r["name"] for r in yaml.safe_load(out.read_text())["repos"]]
    assert names == ["extra", "app", "lib", "dep-a", "hal", "sdk", "tool"]


@pytest.mark.skipif(WEST is None, reason="west is not installed (set NESTR_TEST_WEST=<west>)")
def test_west_resolves_the_same_projects(workspace_src: Path, tmp_path: Path) -> None:
    """`west update` + `west list` in a real workspace agree on every project's facts."""
    assert WEST is not None
    topdir = workspace_src.parent.parent
    env = {**os.environ, "HOME": str(tmp_path / "_isolated" / "home")}

    def west(*args: str) -> str:
        proc = subprocess.run(
            [WEST, *args],
            cwd=topdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    west("init", "-l", str(workspace_src.parent))
    west("update")
    listed = west("list", "--all", "-f", "{name}|{url}|{revision}|{path}")
    theirs = {}
    for line in listed.splitlines():
        name, url, revision, path = line.split("|")
        if name != "manifest":
            theirs[name] = (url, revision, path)
    active = set(west("list", "-f", "{name}").split()) - {"manifest"}
    manifest, _ = resolve(workspace_src, tmp_path / "cache")
    ours = {r.name: (r.url, r.revision, r.path) for r in manifest.repos}
    assert ours == theirs
    assert {r.name for r in manifest.active_repos()} == active
    assert git(topdir / "ext" / "lib", "describe", "--tags") == "v2"
