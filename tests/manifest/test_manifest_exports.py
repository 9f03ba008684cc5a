"""Exports to west, vcstool and repo XML import back to the same repos; west names are valid."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from nestr.manifest.exporters import EXPORTERS, export_west
from nestr.manifest.importers import import_file
from nestr.manifest.loader import load_manifest_text
from nestr.manifest.model import Manifest
from nestr.manifest.repoexport import render_repo_xml
from nestr.manifest.writer import dump_yaml

# read at import: the isolation fixture drops NESTR_* variables before each test runs
WEST = os.environ.get("NESTR_TEST_WEST") or shutil.which("west")
SHA = "0123456789abcdef0123456789abcdef01234567"
MANIFEST = f"""\
version: 1
remotes:
  - {{name: gh, url_base: https://github.com/org}}
repos:
  - {{name: api, remote: gh, revision: main, groups: [backend]}}
  - {{name: web, url: 'https://gitlab.example.com/team/web', revision: v1.0, path: apps/web,
      groups: [frontend, ui]}}
  - {{name: lib, remote: gh, revision: '{SHA}', path: libs/lib, clone: {{depth: 1}}}}
  - {{name: tools, url: 'ssh://git@git.example.com:2222/infra/tools.git', path: tools}}
"""
# repo names a project by its path on the remote: a URL not ending in the name renames it
RENAMED = {"repo": {"tools": "tools.git"}}
FILES = {"west": "west.yml", "vcstool": "x.repos", "repo": "default.xml"}


def render(fmt: str, data: dict[str, Any]) -> str:
    return render_repo_xml(data) if fmt == "repo" else dump_yaml(data)


def facts(manifest: Manifest, *, groups: bool) -> list[tuple[object, ...]]:
    return sorted(
        (r.name, r.url, r.path, r.revision, r.groups if groups else ()) for r in manifest.repos
    )


@pytest.mark.parametrize("fmt", ["west", "vcstool", "repo"])
def test_export_then_import_gives_back_the_same_repos(tmp_path: Path, fmt: str) -> None:
    """name, url, path, revision (and groups, where the format has them) survive a round trip."""
    original = load_manifest_text(MANIFEST, tmp_path / "nestr.yaml")
    exported = EXPORTERS[fmt](original, None)
    path = tmp_path / FILES[fmt]
    path.write_text(render(fmt, exported.data), encoding="utf-8")
    back = import_file(fmt, path)
    again = load_manifest_text(dump_yaml(back.data), tmp_path / "again.yaml")
    groups = fmt != "vcstool"
    renamed = RENAMED.get(fmt, {})
    expected = [(renamed.get(e[0], e[0]), *e[1:]) for e in facts(original, groups=groups)]
    assert facts(again, groups=groups) == sorted(expected)
    assert all(f"{name}: exported as" in "\n".join(exported.warnings) for name in renamed)


def test_repo_export_is_plain_repo_xml(tmp_path: Path) -> None:
    """Remotes per fetch base, the common remote and revision as default, groups, clone-depth."""
    manifest = load_manifest_text(MANIFEST, tmp_path / "nestr.yaml")
    result = EXPORTERS["repo"](manifest, None)
    assert result.data["remotes"] == [
        {"name": "github", "fetch": "https://github.com/org"},
        {"name": "gitlab", "fetch": "https://gitlab.example.com/team"},
        {"name": "git", "fetch": "ssh://git@git.example.com:2222/infra"},
    ]
    assert result.data["default"] == {"remote": "github", "revision": "main"}
    lib = result.data["projects"][2]
    assert lib == {"name": "lib", "path": "libs/lib", "revision": SHA, "clone-depth": "1"}
    xml = render_repo_xml(result.data, header="exported -- by test")
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!-- exported - - by test -->')
    assert '<project name="web" path="apps/web" remote="gitlab" revision="v1.0"' in xml
    assert result.warnings == (
        "tools: exported as project 'tools.git' (repo names a project by its path on the remote,"
        " which is how an import names it back)",
    )


def test_west_export_renames_what_west_refuses_and_says_so(tmp_path: Path) -> None:
    """'/' in a name becomes '-', a clash gets a suffix, 'manifest' is renamed; paths stay."""
    text = (
        "version: 1\nrepos:\n"
        "  - {name: TimesysGit/meta-timesys, url: 'https://h/t', path: sources/meta-timesys}\n"
        "  - {name: TimesysGit-meta-timesys, url: 'https://h/u'}\n"
        "  - {name: manifest, url: 'https://h/m'}\n"
        "  - {name: plain, url: 'https://h/p'}\n"
    )
    manifest = load_manifest_text(text, tmp_path / "nestr.yaml")
    result = export_west(manifest)
    projects = result.data["manifest"]["projects"]
    assert [(p["name"], p.get("path")) for p in projects] == [
        ("TimesysGit-meta-timesys-2", "sources/meta-timesys"),
        ("TimesysGit-meta-timesys", None),
        ("manifest-repo", "manifest"),
        ("plain", None),
    ]
    assert len(result.warnings) == 2
    assert result.warnings[0].startswith(
        "TimesysGit/meta-timesys: renamed to 'TimesysGit-meta-timesys-2' for west"
    )
    assert "its path stays 'manifest'" in result.warnings[1]
    west = tmp_path / "west.yml"
    west.write_text(dump_yaml(result.data))
    back = load_manifest_text(dump_yaml(import_file("west", west).data), tmp_path / "b.yaml")
    assert [r.path for r in back.repos] == [r.path for r in manifest.repos]
    if WEST is not None and Path(WEST).with_name("python").exists():
        check = (
            "import sys; from west.manifest import Manifest;"
            " Manifest.from_data(open(sys.argv[1]).read())"
        )
        proc = subprocess.run(
            [str(Path(WEST).with_name("python")), "-c", check, str(west)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr


def test_cli_exports_repo_xml(nestr: Any, cwd: Path) -> None:
    """`nestr manifest export --to repo` writes XML that `import --from repo` reads back."""
    (cwd / "nestr.yaml").write_text(MANIFEST)
    result = nestr("manifest", "export", "--to", "repo", "-o", "default.xml")
    assert result.code == 0, result.err
    assert "wrote" in result.err
    assert "(1 warnings)" in result.err
    back = nestr("manifest", "import", "--from", "repo", "default.xml")
    assert back.code == 0, back.err
    names = [r["name"] for r in yaml.safe_load(back.out)["repos"]]
    assert names == ["api", "web", "lib", "tools.git"]
