"""Hostile manifests: alias bombs, deep and diamond imports, huge numbers, relative URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nestr.errors import ManifestError
from nestr.manifest.loader import MAX_IMPORT_DEPTH, load_manifest
from nestr.testing import GitRepo


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def billion_laughs(levels: int) -> str:
    lines = ["version: 1", "a0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(20)
@pytest.mark.parametrize("levels", [7, 9, 30])
def test_alias_bomb_is_refused_at_its_line(tmp_path: Path, levels: int) -> None:
    """A 333-byte "billion laughs" (and deeper ones) is refused at once, naming the line."""
    text = billion_laughs(levels)
    assert levels != 7 or len(text) == 333
    with pytest.raises(ManifestError, match=r"nestr.yaml:7:5: YAML alias expands to too many"):
        load_manifest(write(tmp_path / "nestr.yaml", text))


@pytest.mark.timeout(20)
def test_merge_key_bomb_is_refused(tmp_path: Path) -> None:
    """`<<` merges of merges multiply like aliases and are bounded the same way."""
    lines = ["version: 1", "repos: []", "m0: &m0 {k: v}"]
    for i in range(1, 10):
        lines.append(f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 9)}]}}")
    with pytest.raises(ManifestError, match=r"nestr.yaml:\d+:\d+: YAML alias expands"):
        load_manifest(write(tmp_path / "nestr.yaml", "\n".join(lines) + "\n"))


def test_modest_aliases_and_merge_overrides_still_work(tmp_path: Path) -> None:
    """Aliases for shared values, and a `<<` merge whose keys are overridden, load."""
    text = (
        "version: 1\nrepos:\n"
        "  - &base {name: a, url: /srv/a.git, groups: &g [core]}\n"
        "  - {<<: *base, name: b, url: /srv/b.git}\n"
        "  - {name: c, url: /srv/c.git, groups: *g}\n"
    )
    a, b, c = load_manifest(write(tmp_path / "nestr.yaml", text)).repos
    assert (a.url, b.url, b.groups, c.groups) == ("/srv/a.git", "/srv/b.git", ("core",), ("core",))


def test_recursive_alias_is_refused_at_its_anchor(tmp_path: Path) -> None:
    """A value that contains itself through an alias is a located error, not a RecursionError."""
    text = "version: 1\nrepos: &r\n  - {name: a, url: /x, vars: {self: *r}}\n"
    with pytest.raises(ManifestError, match=r"nestr.yaml:2:8: recursive YAML alias"):
        load_manifest(write(tmp_path / "nestr.yaml", text))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 4301, r"nestr.yaml:3:4: integer too large"),
        ("2001-13-45", r"nestr.yaml:3:4: YAML syntax error: invalid value: month must be"),
        ("[" * 150 + "]" * 150, r"nestr.yaml:3:\d+: YAML nesting is too deep"),
    ],
)
def test_values_python_cannot_build_are_located(tmp_path: Path, value: str, message: str) -> None:
    """Huge integers, impossible dates and deep nesting are located errors, not crashes."""
    text = f"version: 1\nrepos: []\nx: {value}\n"
    with pytest.raises(ManifestError, match=message):
        load_manifest(write(tmp_path / "nestr.yaml", text))


@pytest.mark.timeout(60)
def test_import_chain_deeper_than_the_limit_is_refused(tmp_path: Path) -> None:
    """A 1,200-file import chain stops at the limit with an error naming where it starts."""
    for i in range(1200):
        write(tmp_path / f"m{i}.yaml", f"version: 1\nimports: [{{path: m{i + 1}.yaml}}]\n")
    write(tmp_path / "m1200.yaml", "version: 1\nrepos: []\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path / "m0.yaml")
    assert str(info.value.location) == f"{tmp_path / f'm{MAX_IMPORT_DEPTH - 1}.yaml'}:2:18"
    assert f"more than {MAX_IMPORT_DEPTH} files in a chain starting at" in info.value.message
    assert str(tmp_path / "m0.yaml") in info.value.message


def test_import_chain_at_the_limit_loads(tmp_path: Path) -> None:
    """A chain of exactly the limit's length is fine."""
    last = MAX_IMPORT_DEPTH - 1
    for i in range(last):
        write(tmp_path / f"m{i}.yaml", f"version: 1\nimports: [{{path: m{i + 1}.yaml}}]\n")
    write(tmp_path / f"m{last}.yaml", "version: 1\nrepos: [{name: leaf, url: /x}]\n")
    assert [r.name for r in load_manifest(tmp_path / "m0.yaml").repos] == ["leaf"]


@pytest.mark.timeout(30)
def test_diamond_imports_are_walked_once_per_file(tmp_path: Path) -> None:
    """25 files each importing the next twice (2^24 routes) load at once; each file counts once."""
    for i in range(24):
        write(
            tmp_path / f"m{i}.yaml",
            f"version: 1\ngroup_filter: [-g{i}]\n"
            f"imports:\n  - {{path: m{i + 1}.yaml}}\n  - {{path: ./m{i + 1}.yaml}}\n",
        )
    write(tmp_path / "m24.yaml", "version: 1\nrepos:\n  - {name: leaf, url: /x}\n")
    manifest = load_manifest(tmp_path / "m0.yaml")
    assert [r.name for r in manifest.repos] == ["leaf"]
    assert len(manifest.sources) == 25
    assert manifest.group_filter == tuple(f"-g{i}" for i in reversed(range(24)))


def test_a_file_imported_twice_keeps_its_first_place(tmp_path: Path) -> None:
    """The first import of a file decides where its repos and filters go (depth first)."""
    write(tmp_path / "d.yaml", "version: 1\ngroup_filter: [+x]\nrepos: [{name: d, url: /d}]\n")
    write(tmp_path / "b.yaml", "version: 1\ngroup_filter: [-x]\nimports: [{path: d.yaml}]\n")
    write(tmp_path / "c.yaml", "version: 1\nrepos: [{name: c, url: /c}]\n")
    root = write(
        tmp_path / "nestr.yaml",
        "version: 1\nimports: [{path: b.yaml}, {path: c.yaml}, {path: d.yaml}]\n",
    )
    manifest = load_manifest(root)
    assert [r.name for r in manifest.repos] == ["d", "c"]
    assert manifest.group_filter == ("+x", "-x")


def test_relative_urls_are_relative_to_the_file_that_declares_them(tmp_path: Path) -> None:
    """`url: ../x` in the root and in an import, a relative url_base and rewrite target."""
    write(
        tmp_path / "proj" / "sub" / "lib.yaml",
        "version: 1\n"
        "remotes: [{name: local, url_base: ../remotes}]\n"
        "repos:\n"
        "  - {name: imported, url: ../../upstream/imported}\n"
        "  - {name: viaremote, remote: local}\n"
        "  - {name: scp, url: 'host:org/x.git'}\n"
        "  - {name: web, url: 'https://h/org/x.git'}\n"
        "  - {name: abs, url: /srv/abs.git}\n",
    )
    root = write(
        tmp_path / "proj" / "nestr.yaml",
        "version: 1\n"
        "url_rewrites: [{from: 'https://h/', to: mirror/}]\n"
        "repos: [{name: own, url: ../upstream/own}, {name: dot, url: ./here}]\n"
        "imports: [{path: sub/lib.yaml}]\n",
    )
    urls = {r.name: r.url for r in load_manifest(root).repos}
    assert urls == {
        "own": str(tmp_path / "upstream" / "own"),
        "dot": str(tmp_path / "proj" / "here"),
        "imported": str(tmp_path / "upstream" / "imported"),
        "viaremote": str(tmp_path / "proj" / "remotes" / "viaremote"),
        "scp": "host:org/x.git",
        "web": str(tmp_path / "proj" / "mirror" / "org" / "x.git"),
        "abs": "/srv/abs.git",
    }


def test_assemble_clones_a_relative_url_from_the_manifest_directory(
    tmp_path: Path, nestr: Any
) -> None:
    """A repo at `url: ../target` beside the project is cloned, whatever the working directory."""
    target = GitRepo.init(tmp_path / "target", files={"hello.txt": "hi\n"})
    manifest = write(
        tmp_path / "project" / "nestr.yaml",
        "version: 1\nrepos:\n  - {name: t, url: ../target}\n",
    )
    result = nestr("assemble", "-m", str(manifest), "-w", str(tmp_path / "ws"))
    assert result.code == 0, result.out + result.err
    assert (tmp_path / "ws" / "t" / "hello.txt").read_text() == "hi\n"
    assert GitRepo(tmp_path / "ws" / "t").head() == target.head()


def test_unknown_key_that_looks_like_a_union_tag_is_located(tmp_path: Path) -> None:
    """A key such as `workfl[ws` is reported as an unknown key at its line, not a crash."""
    text = "version: 1\nrepos: []\nworkfl[ws: {}\n"
    with pytest.raises(ManifestError, match=r"nestr.yaml:3:1: workfl\[ws: unknown key") as info:
        load_manifest(write(tmp_path / "nestr.yaml", text))
    assert info.value.hint == "did you mean 'workflows'?"


def test_names_too_long_for_the_file_system_are_input_errors(tmp_path: Path) -> None:
    """An import or sync source path with a 300-byte name is a located error, not an OSError."""
    from nestr.sync.rules import load_sync_config

    long = "x" * 300
    text = f"version: 1\nrepos: []\nimports: [{{path: {long}.yaml}}]\n"
    with pytest.raises(ManifestError, match=r"nestr.yaml:3:\d+: imports\[0\].path: imported"):
        load_manifest(write(tmp_path / "nestr.yaml", text))
    text = f"version: 1\nrepos: []\nsync:\n  sources: [{{path: a/{long}}}]\n"
    manifest = load_manifest(write(tmp_path / "nestr.yaml", text))
    with pytest.raises(ManifestError, match=r"nestr.yaml:4:\d+: (sync.)?sources\[0\].path: each"):
        load_sync_config(manifest)
