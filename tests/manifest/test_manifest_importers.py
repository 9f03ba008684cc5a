"""Importing real west, vcstool and repo manifests reproduces their facts and names what is lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from tests.conftest import SHARED_TESTDATA, needs_shared_testdata
from tests.manifest.importer_helpers import comparable, loaded

from nestr.errors import ManifestError
from nestr.manifest.exporters import export_vcstool, export_west
from nestr.manifest.importers import import_file
from nestr.manifest.loader import load_manifest_text
from nestr.manifest.writer import dump_yaml

MANIFESTS = SHARED_TESTDATA / "manifests"
ZEPHYR = MANIFESTS / "zephyr_west.yml"
ROS2 = MANIFESTS / "ros2_rolling.repos"
FSL_DEFAULT = MANIFESTS / "fsl-community-bsp-platform_kirkstone_default.xml"
FSL_BROWSER = MANIFESTS / "fsl-community-bsp-platform_kirkstone_browser.xml"


@pytest.fixture
def zephyr(tmp_path: Path) -> Path:
    """zephyr's west.yml beside its ``submanifests`` directory (which holds no .yml file)."""
    directory = tmp_path / "zephyr"
    (directory / "submanifests").mkdir(parents=True)
    (directory / "submanifests" / "example.yaml.sample").write_text("manifest: {}\n")
    shutil.copy(ZEPHYR, directory / "west.yml")
    return directory / "west.yml"


@pytest.fixture
def fsl_dir(tmp_path: Path) -> Path:
    """The fsl manifests under the names their include expects."""
    directory = tmp_path / "fsl"
    directory.mkdir()
    shutil.copy(FSL_DEFAULT, directory / "default.xml")
    shutil.copy(FSL_BROWSER, directory / "browser.xml")
    return directory


@needs_shared_testdata
def test_zephyr_west_import_reproduces_projects_groups_and_nesting(
    zephyr: Path, tmp_path: Path
) -> None:
    """77 projects, 65 active under the group filter, babblesim_base resolved and nested first."""
    manifest, _ = loaded("west", zephyr, tmp_path)
    assert len(manifest.repos) == 77
    assert len(manifest.active_repos()) == 65
    base = manifest.repo("babblesim_base")
    assert base.url == "https://github.com/BabbleSim/base"
    assert base.revision == "1cce925c72805cfdbb6341ca8c0755c7d42699d3"
    assert base.path == "tools/bsim/components"
    order = [r.name for r in manifest.checkout_order()]
    nested = [r.name for r in manifest.repos if r.path.startswith("tools/bsim/components/")]
    assert len(nested) == 10
    assert all(order.index("babblesim_base") < order.index(name) for name in nested)


@needs_shared_testdata
def test_zephyr_west_import_reports_what_nestr_cannot_express(zephyr: Path, tmp_path: Path) -> None:
    """self: path and west-commands are warnings; the (empty) submanifests import is followed."""
    _, warnings = loaded("west", zephyr, tmp_path)
    text = "\n".join(warnings)
    assert "manifest.self.import" not in text
    assert "manifest.self.path" in text
    assert "manifest.self.west-commands" in text
    assert "project 'hal_espressif' west-commands" in text
    assert "west.yml:412:5: manifest.self.west-commands" in text


@needs_shared_testdata
def test_zephyr_self_import_that_is_missing_is_a_located_error() -> None:
    """The shared zephyr west.yml imports submanifests/, absent beside it: located, no crash."""
    with pytest.raises(ManifestError, match="import 'submanifests' does not exist") as info:
        import_file("west", ZEPHYR)
    assert info.value.field == "manifest.self.import"
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.column) == (413, 13)


def test_zephyr_project_without_revision_gets_west_default_master(tmp_path: Path) -> None:
    """west's default revision is master, so an imported project without one keeps master."""
    west = tmp_path / "west.yml"
    west.write_text(
        "manifest:\n  remotes: [{name: r, url-base: 'https://h'}]\n  defaults: {remote: r}\n"
        "  projects:\n    - {name: a, clone-depth: 2, userdata: {x: 1}}\n"
    )
    result = import_file("west", west)
    manifest = load_manifest_text(dump_yaml(result.data), tmp_path / "nestr.yaml")
    assert manifest.repo("a").revision == "master"
    assert manifest.repo("a").clone.depth == 2
    assert any("project 'a' userdata: not imported" in w for w in result.warnings)


@needs_shared_testdata
def test_ros2_vcstool_import_keys_repos_by_path(tmp_path: Path) -> None:
    """105 git repos, each at its org/name path with its branch as revision."""
    manifest, warnings = loaded("vcstool", ROS2, tmp_path)
    assert len(manifest.repos) == 105
    assert warnings == ()
    source = yaml.safe_load(ROS2.read_text())["repositories"]
    assert {r.path: (r.url, r.revision) for r in manifest.repos} == {
        path: (entry["url"], entry["version"]) for path, entry in source.items()
    }


def test_vcstool_non_git_entries_and_missing_versions_are_reported(tmp_path: Path) -> None:
    """An svn entry is left out by name; a repo without version is imported with a warning."""
    path = tmp_path / "x.repos"
    path.write_text(
        "repositories:\n  a/tool:\n    type: svn\n    url: https://svn/x\n"
        "  b/tool:\n    type: git\n    url: https://h/b.git\n"
        "  c/tool:\n    type: git\n    url: https://h/c.git\n    version: main\n"
    )
    result = import_file("vcstool", path)
    assert [r["name"] for r in result.data["repos"]] == ["b/tool", "c/tool"]
    assert any("a/tool: not imported (type 'svn'" in w for w in result.warnings)
    assert any("b/tool: no version" in w for w in result.warnings)


@needs_shared_testdata
def test_fsl_repo_default_import(fsl_dir: Path, tmp_path: Path) -> None:
    """7 projects over 3 remotes at revision kirkstone; sync-j and both linkfiles are reported."""
    manifest, warnings = loaded("repo", fsl_dir / "default.xml", tmp_path)
    assert len(manifest.repos) == 7
    assert {r.revision for r in manifest.repos} == {"kirkstone"}
    base = manifest.repo("fsl-community-bsp-base")
    assert (base.url, base.path) == (
        "https://github.com/Freescale/fsl-community-bsp-base",
        "sources/base",
    )
    result = import_file("repo", fsl_dir / "default.xml")
    assert len(result.data["remotes"]) == 3
    text = "\n".join(warnings)
    assert "sync-j='4'" in text
    assert "<linkfile README → README>" in text
    assert "<linkfile setup-environment → setup-environment>" in text
    assert "default.xml:16:2" in text


@needs_shared_testdata
def test_fsl_repo_browser_include_resolves_relative_to_the_file(
    fsl_dir: Path, tmp_path: Path
) -> None:
    """browser.xml includes default.xml: 7 + 2 = 9 projects, meta-browser pinned to a SHA."""
    manifest, _ = loaded("repo", fsl_dir / "browser.xml", tmp_path)
    assert len(manifest.repos) == 9
    browser = manifest.repo("meta-browser")
    assert browser.revision == "3c81df00f2afbcd646be6aa5346fa16a14d86a6f"
    assert browser.url == "https://github.com/OSSystems/meta-browser"
    assert manifest.repo("meta-clang").revision == "kirkstone"


@needs_shared_testdata
def test_repo_include_that_is_missing_is_a_located_error() -> None:
    """The shared browser.xml names default.xml, absent beside it: a clear error, not a crash."""
    with pytest.raises(ManifestError, match=r"included manifest 'default\.xml' not found") as info:
        import_file("repo", FSL_BROWSER)
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.column) == (4, 3)


def test_repo_remove_project_unknown_elements_and_duplicates(tmp_path: Path) -> None:
    """remove-project removes, unknown elements are named, a repeated name is keyed by path."""
    path = tmp_path / "m.xml"
    path.write_text(
        '<manifest>\n  <remote name="o" fetch="https://h" revision="dev"/>\n'
        '  <default remote="o"/>\n  <repo-hooks in-project="x" enabled-list="y"/>\n'
        '  <project name="a" groups="notdefault,tools"><copyfile src="s" dest="d"/></project>\n'
        '  <project name="b" path="b1"/>\n  <project name="b" path="b2" upstream="u"/>\n'
        '  <project name="c"/>\n  <remove-project name="c"/>\n</manifest>\n'
    )
    result = import_file("repo", path)
    repos = result.data["repos"]
    assert [r["name"] for r in repos] == ["a", "b1", "b2"]
    assert repos[1]["repo_path"] == "b"
    assert result.data["group_filter"] == ["-notdefault"]
    text = "\n".join(result.warnings)
    assert "<repo-hooks>: not imported" in text
    assert "<copyfile s → d>" in text
    assert "project 'b' upstream" in text
    manifest = load_manifest_text(dump_yaml(result.data), tmp_path / "nestr.yaml")
    assert manifest.repo("b2").url == "https://h/b"
    assert manifest.repo("b2").revision == "dev"


def test_repo_xml_syntax_error_is_located(tmp_path: Path) -> None:
    """Broken XML is a ManifestError with line and column."""
    path = tmp_path / "m.xml"
    path.write_text("<manifest>\n  <project name='a'>\n</manifest>\n")
    with pytest.raises(ManifestError, match="XML syntax error") as info:
        import_file("repo", path)
    assert info.value.location is not None
    assert info.value.location.line == 3


def test_west_bad_shape_is_a_located_error(tmp_path: Path) -> None:
    """A west file whose projects is not a list is refused at that node."""
    path = tmp_path / "west.yml"
    path.write_text("manifest:\n  projects: {a: 1}\n")
    with pytest.raises(ManifestError, match="expected a list") as info:
        import_file("west", path)
    assert info.value.field == "manifest.projects"
    assert info.value.location is not None
    assert info.value.location.line == 2


@needs_shared_testdata
def test_west_round_trip_keeps_every_resolved_repo(zephyr: Path, tmp_path: Path) -> None:
    """west → nestr → west → nestr resolves to the same repos, activity included."""
    first, _ = loaded("west", zephyr, tmp_path)
    exported = export_west(first)
    west = tmp_path / "exported-west.yml"
    west.write_text(dump_yaml(exported.data))
    second, warnings = loaded("west", west, tmp_path)
    assert comparable(second) == comparable(first)
    assert second.group_filter == first.group_filter
    assert warnings == ()


@needs_shared_testdata
def test_vcstool_round_trip_reproduces_the_original_file(tmp_path: Path) -> None:
    """vcstool → nestr → vcstool gives back exactly the original repositories."""
    manifest, _ = loaded("vcstool", ROS2, tmp_path)
    exported = export_vcstool(manifest)
    assert exported.data == yaml.safe_load(ROS2.read_text())
    assert exported.warnings == ()


def test_exports_with_commits_pin_every_revision(tmp_path: Path) -> None:
    """Given locked commits, both exporters write them as revisions; a missing one is refused."""
    text = (
        "version: 1\nrepos:\n  - {name: a, url: 'https://h/a'}\n  - {name: b, url: 'https://h/b'}\n"
    )
    manifest = load_manifest_text(text, tmp_path / "nestr.yaml")
    commits = {"a": "1" * 40, "b": "2" * 40}
    west = export_west(manifest, commits).data["manifest"]["projects"]
    assert [p["revision"] for p in west] == ["1" * 40, "2" * 40]
    vcs = export_vcstool(manifest, commits).data["repositories"]
    assert vcs["b"]["version"] == "2" * 40
    with pytest.raises(Exception, match="no locked commit for repo 'b'"):
        export_west(manifest, {"a": "1" * 40})


def test_vcstool_export_names_inactive_and_clone_options(tmp_path: Path) -> None:
    """Inactive repos and clone options that vcstool cannot express are reported by name."""
    text = (
        "version: 1\ngroup_filter: [-x]\nrepos:\n"
        "  - {name: a, url: 'https://h/a', clone: {depth: 1}, vars: {k: v}}\n"
        "  - {name: b, url: 'https://h/b', groups: [x]}\n"
    )
    manifest = load_manifest_text(text, tmp_path / "nestr.yaml")
    result = export_vcstool(manifest)
    assert list(result.data["repositories"]) == ["a"]
    assert result.warnings == (
        "a: clone depth not exported (vcstool has no equivalent)",
        "a: vars not exported (vcstool has no equivalent)",
        "b: not exported (inactive under the group filter)",
    )


@pytest.mark.parametrize(
    ("fmt", "name", "text", "message"),
    [
        ("west", "w.yml", "projects: []\n", "not a west manifest"),
        ("west", "w.yml", "manifest:\n  projects:\n    - {path: x}\n", "project has no 'name'"),
        ("west", "w.yml", "manifest:\n  remotes:\n    - {name: r}\n", "remote has no 'url-base'"),
        ("west", "w.yml", "manifest:\n  projects:\n    - {name: a, clone-depth: x}\n", "positive"),
        ("vcstool", "v.repos", "repos: {}\n", "not a vcstool file"),
        ("vcstool", "v.repos", "repositories:\n  a: {type: git}\n", "has no url"),
        ("repo", "m.xml", "<other/>", "root element is <other>"),
        ("repo", "m.xml", '<manifest><project name="a"/></manifest>', "has no remote"),
        ("repo", "m.xml", '<manifest><include name="m.xml"/></manifest>', "include cycle"),
        ("repo", "m.xml", "<manifest><remote fetch='x'/></manifest>", "no 'name' attribute"),
    ],
)
def test_malformed_foreign_manifests_are_refused(
    tmp_path: Path, fmt: str, name: str, text: str, message: str
) -> None:
    """Foreign input nestr cannot translate is a located ManifestError, never a crash."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ManifestError, match=message) as info:
        import_file(fmt, path)
    assert info.value.location is not None
    assert info.value.location.file == path


def test_repo_relative_fetch_and_bad_groups_are_reported(tmp_path: Path) -> None:
    """A fetch relative to the manifest repo's URL and a group nestr cannot name are warnings."""
    path = tmp_path / "m.xml"
    path.write_text(
        '<manifest><remote name="aosp" fetch=".." review="r"/><default remote="aosp"/>'
        '<project name="a" groups="pdk,name:x" clone-depth="z"/></manifest>'
    )
    result = import_file("repo", path)
    text = "\n".join(result.warnings)
    assert "fetch '..' is relative" in text
    assert "remote 'aosp' review: not imported" in text
    assert "group 'name:x': not imported" in text
    assert "clone-depth='z'" in text
    assert result.data["repos"] == [{"name": "a", "groups": ["pdk"]}]


def test_west_self_import_diamond_and_depth_are_bounded(tmp_path: Path) -> None:
    """A 30-level diamond of self imports resolves at once; a 70-deep chain is a located error."""
    for level in range(30):
        for side in "ab":
            nxt = f"[d{level + 1}a.yml, d{level + 1}b.yml]" if level < 29 else "[]"
            project = f"{{name: p{level}{side}, url: 'https://h/p{level}{side}'}}"
            (tmp_path / f"d{level}{side}.yml").write_text(
                f"manifest:\n  self: {{import: {nxt}}}\n  projects: [{project}]\n"
            )
    (tmp_path / "west.yml").write_text("manifest:\n  self: {import: [d0a.yml, d0b.yml]}\n")
    result = import_file("west", tmp_path / "west.yml")
    assert len(result.data["repos"]) == 60
    chain = tmp_path / "chain"
    chain.mkdir()
    for level in range(70):
        (chain / f"c{level}.yml").write_text(f"manifest:\n  self: {{import: c{level + 1}.yml}}\n")
    (chain / "c70.yml").write_text("manifest: {}\n")
    with pytest.raises(ManifestError, match="imports nest deeper than 64 files"):
        import_file("west", chain / "c0.yml")


def test_wrong_format_shows_an_excerpt_and_names_the_right_from(nestr, cwd: Path) -> None:
    """An XML manifest imported as vcstool: the error quotes a short escaped excerpt of the
    file, not the whole of it, and the hint names `--from repo`."""
    projects = "".join(f'  <project name="p{i}" path="p{i}"/>\n' for i in range(200))
    (cwd / "default.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<manifest>\n'
        '  <remote name="o" fetch="https://example.com"/>\n'
        f'  <default revision="main" remote="o"/>\n{projects}</manifest>\n'
    )
    result = nestr("manifest", "import", "--from", "vcstool", "default.xml")
    assert result.code == 2
    error, hint = result.err.splitlines()
    assert error.startswith("error: default.xml:1:1: expected a mapping, found string '<?xml")
    assert len(error) < 160
    assert "p199" not in error
    assert hint == "hint: default.xml looks like a repo manifest: pass --from repo"
    (cwd / "esc.repos").write_text('repositories: "\\e[31mred"\n')  # a terminal escape
    escaped = nestr("manifest", "import", "--from", "vcstool", "esc.repos")
    assert escaped.code == 2
    assert "found string '\\x1b[31mred'" in escaped.err
    assert "\x1b" not in escaped.err


@pytest.mark.parametrize(
    ("fmt", "name", "text", "right"),
    [
        ("repo", "a.repos", "repositories:\n  a: {type: git, url: x}\n", "vcstool"),
        ("west", "a.repos", "repositories:\n  a: {type: git, url: x}\n", "vcstool"),
        ("vcstool", "west.yml", "manifest:\n  projects: []\n", "west"),
    ],
)
def test_a_file_of_another_format_gets_a_from_hint(
    tmp_path: Path, fmt: str, name: str, text: str, right: str
) -> None:
    """Whichever format was wrongly named, the hint names the one the file looks like."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ManifestError) as info:
        import_file(fmt, path)
    assert info.value.hint == f"{name} looks like a {right} manifest: pass --from {right}"
