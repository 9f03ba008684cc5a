"""Importers on manifests the tests write: west, vcstool and repo XML facts, without ../shared.

These mirror the real-world acceptance tests (test_manifest_importers.py, which skip where the
real-world manifests are absent) with small manifests of the same shapes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.manifest.importer_helpers import comparable, loaded

from nestr.errors import ManifestError
from nestr.manifest.exporters import export_vcstool, export_west
from nestr.manifest.importers import import_file
from nestr.manifest.writer import dump_yaml

WEST = """\
# a west manifest shaped like zephyr's
manifest:
  defaults:
    remote: upstream

  remotes:
    - name: upstream
      url-base: https://example.org/rtos
    - name: sim
      url-base: https://example.org/Sim
    - name: xen
      url-base: https://example.org/xen

  group-filter: [-sim, -optional]

  projects:
    - name: acpica
      revision: 8d24867bc9c9d81c81eeac59391cda59333affd4
      path: modules/lib/acpica
    - name: sim_base
      remote: sim
      repo-path: base
      path: tools/sim/components
      revision: 1cce925c72805cfdbb6341ca8c0755c7d42699d3
      groups:
        - sim
    - name: sim_ext_a
      remote: sim
      repo-path: ext_a
      path: tools/sim/components/ext_a
      revision: 20a38c997f507b0aa53817aab3d73a462fff7af1
      groups:
        - sim
    - name: sim_ext_b
      remote: sim
      repo-path: ext_b
      path: tools/sim/components/ext_b
      revision: bde72a57384dde7a4310bcf3843469401be93074
      groups:
        - sim
    - name: hal_x
      revision: main
      path: modules/hal/x
      west-commands: zephyr/module.yml
      groups:
        - hal
    - name: mcuboot
      revision: v2.1.0
      path: bootloader/mcuboot
      groups:
        - optional
    - name: xen-tools
      remote: xen
      revision: 4.18
      path: modules/xen
  self:
    path: rtos
    west-commands: scripts/west-commands.yml
    import: submanifests
"""

VCSTOOL = """\
repositories:
  ament/ament_cmake:
    type: git
    url: https://example.org/ament/ament_cmake.git
    version: rolling
  eProsima/Fast-DDS:
    type: git
    url: https://example.org/eProsima/Fast-DDS.git
    version: 2.14.x
  ros2/rclcpp:
    type: git
    url: https://example.org/ros2/rclcpp.git
    version: rolling
"""

REPO_DEFAULT = """\
<?xml version="1.0" encoding="UTF-8"?>
<manifest>

  <default sync-j="4" revision="kirkstone"/>

  <remote fetch="https://example.org/yocto" name="yocto"/>
  <remote fetch="https://example.org/Freescale" name="freescale"/>

  <project remote="yocto" name="poky" path="sources/poky"/>
  <project remote="freescale" name="bsp-base" path="sources/base">
\t<linkfile dest="README" src="README"/>
\t<linkfile dest="setup-environment" src="setup-environment"/>
  </project>
  <project remote="freescale" name="meta-freescale" path="sources/meta-freescale"/>

</manifest>
"""

REPO_BROWSER = """\
<?xml version="1.0" encoding="UTF-8"?>
<manifest>

  <include name="default.xml"/>

  <remote fetch="https://example.org/OSSystems" name="OSSystems"/>

  <project remote="OSSystems" name="meta-browser" path="sources/meta-browser" \
revision="3c81df00f2afbcd646be6aa5346fa16a14d86a6f" />

</manifest>
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def west_file(directory: Path) -> Path:
    """WEST beside an empty ``submanifests`` directory, as its ``self: import:`` expects."""
    (directory / "submanifests").mkdir(exist_ok=True)
    return write(directory / "west.yml", WEST)


def test_west_counts_group_filter_remotes_and_nesting(tmp_path: Path) -> None:
    """7 projects, 3 active under the filter; url-base + repo-path give URLs; nested come later."""
    manifest, _ = loaded("west", west_file(tmp_path), tmp_path)
    assert len(manifest.repos) == 7
    assert sorted(r.name for r in manifest.active_repos()) == ["acpica", "hal_x", "xen-tools"]
    base = manifest.repo("sim_base")
    assert (base.url, base.revision, base.path) == (
        "https://example.org/Sim/base",
        "1cce925c72805cfdbb6341ca8c0755c7d42699d3",
        "tools/sim/components",
    )
    assert manifest.repo("acpica").url == "https://example.org/rtos/acpica"
    assert manifest.repo("xen-tools").url == "https://example.org/xen/xen-tools"
    assert manifest.repo("xen-tools").revision == "4.18"  # a YAML float kept as written
    order = [r.name for r in manifest.checkout_order()]
    assert order.index("sim_base") < order.index("sim_ext_a")
    assert order.index("sim_base") < order.index("sim_ext_b")


def test_west_reports_what_nestr_cannot_express_with_locations(tmp_path: Path) -> None:
    """west-commands are located warnings; a self import of a missing directory is an error."""
    _, warnings = loaded("west", west_file(tmp_path), tmp_path)
    text = "\n".join(warnings)
    assert "manifest.self.west-commands" in text
    assert "project 'hal_x' west-commands" in text
    line = WEST.splitlines().index("      west-commands: zephyr/module.yml") + 1
    assert f"west.yml:{line}:" in text
    (tmp_path / "submanifests").rmdir()
    with pytest.raises(ManifestError, match="submanifests") as info:
        import_file("west", tmp_path / "west.yml")
    assert info.value.location is not None
    assert info.value.location.line == WEST.splitlines().index("    import: submanifests") + 1


def test_west_round_trip_keeps_every_resolved_repo(tmp_path: Path) -> None:
    """west → nestr → west → nestr resolves to the same repos, activity included."""
    first, _ = loaded("west", west_file(tmp_path), tmp_path)
    exported = write(tmp_path / "exported.yml", dump_yaml(export_west(first).data))
    second, warnings = loaded("west", exported, tmp_path)
    assert comparable(second) == comparable(first)
    assert second.group_filter == first.group_filter
    assert warnings == ()


def test_vcstool_keys_repos_by_path_and_round_trips(tmp_path: Path) -> None:
    """Each repo sits at its org/name key with its branch; export gives the file back exactly."""
    path = write(tmp_path / "x.repos", VCSTOOL)
    manifest, warnings = loaded("vcstool", path, tmp_path)
    assert warnings == ()
    source = yaml.safe_load(VCSTOOL)["repositories"]
    assert {r.path: (r.url, r.revision) for r in manifest.repos} == {
        key: (entry["url"], entry["version"]) for key, entry in source.items()
    }
    assert export_vcstool(manifest).data == yaml.safe_load(VCSTOOL)


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bsp"
    directory.mkdir()
    write(directory / "default.xml", REPO_DEFAULT)
    write(directory / "browser.xml", REPO_BROWSER)
    return directory


def test_repo_default_revision_remotes_and_linkfiles(repo_dir: Path, tmp_path: Path) -> None:
    """3 projects at the default revision; sync-j and both linkfiles are located warnings."""
    manifest, warnings = loaded("repo", repo_dir / "default.xml", tmp_path)
    assert len(manifest.repos) == 3
    assert {r.revision for r in manifest.repos} == {"kirkstone"}
    base = manifest.repo("bsp-base")
    assert (base.url, base.path) == ("https://example.org/Freescale/bsp-base", "sources/base")
    assert len(import_file("repo", repo_dir / "default.xml").data["remotes"]) == 2
    text = "\n".join(warnings)
    assert "sync-j='4'" in text
    assert "<linkfile README → README>" in text
    assert "<linkfile setup-environment → setup-environment>" in text
    line = REPO_DEFAULT.splitlines().index('\t<linkfile dest="README" src="README"/>') + 1
    assert f"default.xml:{line}:2" in text


def test_repo_include_resolves_beside_the_file(repo_dir: Path, tmp_path: Path) -> None:
    """browser.xml includes default.xml: 3 + 1 = 4 projects, one pinned to a SHA."""
    manifest, _ = loaded("repo", repo_dir / "browser.xml", tmp_path)
    assert len(manifest.repos) == 4
    browser = manifest.repo("meta-browser")
    assert browser.revision == "3c81df00f2afbcd646be6aa5346fa16a14d86a6f"
    assert browser.url == "https://example.org/OSSystems/meta-browser"
    assert manifest.repo("poky").revision == "kirkstone"


def test_repo_missing_include_is_a_located_error(tmp_path: Path) -> None:
    """An include whose file is absent is a ManifestError at the <include> element."""
    path = write(tmp_path / "browser.xml", REPO_BROWSER)
    with pytest.raises(ManifestError, match=r"included manifest 'default\.xml' not found") as info:
        import_file("repo", path)
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.column) == (4, 3)


def test_cli_import_repo_with_include_and_validate(nestr, cwd: Path) -> None:  # type: ignore[no-untyped-def]
    """The CLI follows the include, reports linkfiles on stderr, writes a loadable manifest."""
    write(cwd / "default.xml", REPO_DEFAULT)
    write(cwd / "browser.xml", REPO_BROWSER)
    result = nestr("manifest", "import", "--from", "repo", "browser.xml", "-o", "nestr.yaml")
    assert result.code == 0
    assert result.err.count("<linkfile") == 2
    assert nestr("manifest", "validate").out == "manifest is valid: 4 repos (4 active)\n"
    missing = nestr("manifest", "import", "--from", "repo", str(cwd / "none.xml"))
    assert missing.code == 2
    assert "none.xml: file not found" in missing.err


def test_cli_import_refuses_to_overwrite_without_force(nestr, cwd: Path) -> None:  # type: ignore[no-untyped-def]
    """-o writes a loadable manifest; a second run refuses (exit 2) unless --force."""
    write(cwd / "x.repos", VCSTOOL)
    assert nestr("manifest", "import", "--from", "vcstool", "x.repos", "-o", "nestr.yaml").code == 0
    write(cwd / "nestr.yaml", "keep me")
    again = nestr("manifest", "import", "--from", "vcstool", "x.repos", "-o", "nestr.yaml")
    assert again.code == 2
    assert "already exists" in again.err
    assert "--force" in again.err
    assert (cwd / "nestr.yaml").read_text() == "keep me"
    forced = nestr(
        "manifest", "import", "--from", "vcstool", "x.repos", "-o", "nestr.yaml", "--force"
    )
    assert forced.code == 0
    assert sorted(p.name for p in cwd.iterdir()) == ["nestr.yaml", "x.repos"]
    assert nestr("manifest", "validate").out == "manifest is valid: 3 repos (3 active)\n"


def test_schema_declares_every_key_an_import_writes(nestr, cwd: Path) -> None:  # type: ignore[no-untyped-def]
    """Every key of an imported west manifest is a property the editor schema declares."""
    import json

    schema = json.loads(nestr("manifest", "schema").out)
    west_file(cwd)
    assert nestr("manifest", "import", "--from", "west", "west.yml", "-o", "n.yaml").code == 0
    data = yaml.safe_load((cwd / "n.yaml").read_text())
    assert set(data) <= set(schema["properties"])
    repo_keys = set(schema["$defs"]["RepoSection"]["properties"])
    assert all(set(repo) <= repo_keys for repo in data["repos"])
