"""`nestr manifest validate|schema|show|import|export` through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from tests.conftest import SHARED_TESTDATA, needs_shared_testdata

from nestr.manifest.loader import load_manifest

MANIFESTS = SHARED_TESTDATA / "manifests"
EXAMPLE = """\
version: 1
remotes:
  - {name: materi, url_base: 'https://git.example.com/materi'}
defaults: {remote: materi}
group_filter: [-experimental]
repos:
  - {name: api, groups: [backend], vars: {port: 8080}}
  - {name: worker, revision: v2.3.1, groups: [experimental]}
  - {name: web, path: apps/web}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_counts_repos_and_active_repos(nestr, cwd: Path) -> None:
    """validate finds nestr.yaml upward and reports repos and active repos."""
    write(cwd / "nestr.yaml", EXAMPLE)
    (cwd / "deep" / "er").mkdir(parents=True)
    result = nestr("-C", "deep/er", "manifest", "validate")
    assert (result.code, result.out) == (0, "manifest is valid: 3 repos (2 active)\n")


def test_validate_json_shapes_for_valid_and_invalid(nestr, cwd: Path) -> None:
    """--json prints {valid, errors, manifest, repos, active, workflows}; invalid exits 2."""
    path = write(cwd / "nestr.yaml", EXAMPLE)
    result = nestr("manifest", "validate", "--json")
    assert json.loads(result.out) == {
        "valid": True,
        "errors": [],
        "manifest": str(path),
        "repos": 3,
        "active": 2,
        "workflows": [],
    }
    bad = write(cwd / "bad.yaml", "version: 1\nrepos:\n  - {name: a, pth: x, groups: 3}\n")
    result = nestr("manifest", "validate", "--json", "-m", "bad.yaml")
    assert result.code == 2
    data = json.loads(result.out)
    assert (data["valid"], data["repos"], data["active"]) == (False, None, None)
    assert data["errors"] == [  # in file order
        {
            "message": "unknown key",
            "field": "repos[0].pth",
            "file": str(bad),
            "line": 3,
            "column": 15,
            "hint": "did you mean 'path'?",
        },
        {
            "message": "input should be a valid list; got 3",
            "field": "repos[0].groups",
            "file": str(bad),
            "line": 3,
            "column": 23,
            "hint": None,
        },
    ]


def test_validate_without_a_manifest_is_a_usage_error(nestr) -> None:
    """No nestr.yaml anywhere up the tree: exit 2 with a hint to pass -m."""
    result = nestr("manifest", "validate")
    assert result.code == 2
    assert "no nestr.yaml found" in result.err
    assert "-m FILE" in result.err


def test_show_prints_resolved_table(nestr, cwd: Path) -> None:
    """The table shows name, path, resolved url, revision, groups and activity per repo."""
    write(cwd / "nestr.yaml", EXAMPLE)
    result = nestr("manifest", "show")
    lines = result.out.splitlines()
    assert lines[0].split() == ["NAME", "PATH", "URL", "REVISION", "GROUPS", "ACTIVE"]
    assert lines[2].split() == [
        "worker",
        "worker",
        "https://git.example.com/materi/worker",
        "v2.3.1",
        "experimental",
        "no",
    ]
    assert lines[3].split()[:2] == ["web", "apps/web"]


def test_show_json_is_manifest_to_dict(nestr, cwd: Path) -> None:
    """show --json prints the documented shape, equal to Manifest.to_dict()."""
    path = write(cwd / "nestr.yaml", EXAMPLE)
    result = nestr("manifest", "show", "--json", "-m", "nestr.yaml")
    data = json.loads(result.out)
    assert data == json.loads(json.dumps(load_manifest(path).to_dict()))
    assert data["repos"][0]["vars"] == {"port": 8080}
    assert data["group_filter"] == ["-experimental"]


def test_schema_describes_the_manifest_format(nestr) -> None:
    """The printed JSON Schema requires version, forbids unknown keys and describes each field."""
    result = nestr("manifest", "schema")
    schema = json.loads(result.out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["required"] == ["version"]
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {
        "version", "remotes", "defaults", "group_filter", "repos", "imports",
        "url_rewrites", "workflows", "sync",
    }  # fmt: skip
    repo = schema["$defs"]["RepoSection"]
    assert repo["required"] == ["name"]
    assert repo["additionalProperties"] is False
    assert all(field.get("description") for field in repo["properties"].values())
    assert set(schema["$defs"]["UrlRewriteSection"]["properties"]) == {"from", "to"}


def zephyr_checkout(directory: Path) -> Path:
    """zephyr's west.yml beside its ``submanifests`` directory (no .yml file in it)."""
    (directory / "submanifests").mkdir(parents=True)
    shutil.copy(MANIFESTS / "zephyr_west.yml", directory / "west.yml")
    return directory / "west.yml"


@needs_shared_testdata
def test_schema_accepts_the_keys_of_a_real_manifest(nestr, cwd: Path, tmp_path: Path) -> None:
    """Every key of an imported zephyr manifest is a property the schema declares."""
    schema = json.loads(nestr("manifest", "schema").out)
    west = zephyr_checkout(tmp_path / "zephyr")
    nestr("manifest", "import", "--from", "west", str(west), "-o", "n.yaml")
    data = yaml.safe_load((cwd / "n.yaml").read_text())
    assert set(data) <= set(schema["properties"])
    repo_keys = set(schema["$defs"]["RepoSection"]["properties"])
    assert all(set(repo) <= repo_keys for repo in data["repos"])
    remote_keys = set(schema["$defs"]["RemoteSection"]["required"])
    assert all(set(remote) == remote_keys for remote in data["remotes"])


@needs_shared_testdata
def test_import_prints_yaml_and_warnings_on_stderr(nestr, cwd: Path, tmp_path: Path) -> None:
    """Without -o the nestr.yaml goes to stdout, the warnings to stderr, nothing is written."""
    west = zephyr_checkout(tmp_path / "zephyr")
    result = nestr("manifest", "import", "--from", "west", str(west))
    assert result.code == 0
    data = yaml.safe_load(result.out)
    assert len(data["repos"]) == 77
    assert "warning: " in result.err
    assert "manifest.self.west-commands" in result.err
    assert list(cwd.iterdir()) == []


@needs_shared_testdata
def test_import_of_a_missing_self_import_exits_2_at_its_line(nestr) -> None:
    """zephyr's `self: import: submanifests` without the directory: exit 2, file:line, no trace."""
    result = nestr("manifest", "import", "--from", "west", str(MANIFESTS / "zephyr_west.yml"))
    assert result.code == 2
    assert "zephyr_west.yml:413:13: manifest.self.import: import 'submanifests'" in result.err
    assert "Traceback" not in result.err


@needs_shared_testdata
def test_import_writes_output_and_refuses_to_overwrite(nestr, cwd: Path) -> None:
    """-o writes a loadable manifest; a second run refuses (exit 2) unless --force."""
    source = str(MANIFESTS / "ros2_rolling.repos")
    assert nestr("manifest", "import", "--from", "vcstool", source, "-o", "nestr.yaml").code == 0
    assert len(load_manifest(cwd / "nestr.yaml").repos) == 105
    (cwd / "nestr.yaml").write_text("keep me")
    again = nestr("manifest", "import", "--from", "vcstool", source, "-o", "nestr.yaml")
    assert again.code == 2
    assert "already exists" in again.err
    assert "--force" in again.err
    assert (cwd / "nestr.yaml").read_text() == "keep me"
    forced = nestr("manifest", "import", "--from", "vcstool", source, "-o", "nestr.yaml", "--force")
    assert forced.code == 0
    assert sorted(p.name for p in cwd.iterdir()) == ["nestr.yaml"]  # no temp file left
    assert nestr("manifest", "validate").out == "manifest is valid: 105 repos (105 active)\n"


@needs_shared_testdata
def test_import_repo_with_include(nestr, cwd: Path) -> None:
    """repo import follows <include> beside the file and reports linkfiles on stderr."""
    shutil.copy(MANIFESTS / "fsl-community-bsp-platform_kirkstone_default.xml", cwd / "default.xml")
    shutil.copy(MANIFESTS / "fsl-community-bsp-platform_kirkstone_browser.xml", cwd / "browser.xml")
    result = nestr("manifest", "import", "--from", "repo", "browser.xml")
    assert result.code == 0
    assert len(yaml.safe_load(result.out)["repos"]) == 9
    assert result.err.count("<linkfile") == 2


@needs_shared_testdata
def test_import_missing_include_and_missing_file_exit_2(nestr, cwd: Path) -> None:
    """An unresolvable include or a missing input file is a located error with exit 2."""
    browser = str(MANIFESTS / "fsl-community-bsp-platform_kirkstone_browser.xml")
    result = nestr("manifest", "import", "--from", "repo", browser)
    assert result.code == 2
    assert "browser.xml:4:3: include: included manifest 'default.xml' not found" in result.err
    missing = nestr("manifest", "import", "--from", "west", "nope.yml")
    assert missing.code == 2
    assert "nope.yml: file not found" in missing.err


def test_import_refuses_a_translation_nestr_cannot_load(nestr, cwd: Path) -> None:
    """A foreign manifest whose paths escape the workspace is refused, not written."""
    write(
        cwd / "west.yml",
        "manifest:\n  projects:\n    - {name: a, url: 'https://h/a', path: ../a}\n",
    )
    result = nestr("manifest", "import", "--from", "west", "west.yml", "-o", "nestr.yaml")
    assert result.code == 2
    assert "leaves the workspace" in result.err
    assert not (cwd / "nestr.yaml").exists()


def test_export_west_and_vcstool(nestr, cwd: Path) -> None:
    """export prints a west manifest (with group-filter) or a .repos file of active repos."""
    write(cwd / "nestr.yaml", EXAMPLE)
    west = yaml.safe_load(nestr("manifest", "export", "--to", "west").out)["manifest"]
    assert west["group-filter"] == ["-experimental"]
    assert west["projects"][2] == {
        "name": "web",
        "url": "https://git.example.com/materi/web",
        "revision": "main",
        "path": "apps/web",
    }
    result = nestr("manifest", "export", "--to", "vcstool", "-o", "out.repos")
    assert result.code == 0
    repos = yaml.safe_load((cwd / "out.repos").read_text())["repositories"]
    assert list(repos) == ["api", "apps/web"]
    assert "worker: not exported (inactive" in result.err


def test_export_locked_uses_commits_from_nestr_lock(nestr, cwd: Path) -> None:
    """--locked writes each repo's commit from nestr.lock; without a lock it exits 2 with a hint."""
    write(cwd / "nestr.yaml", EXAMPLE)
    missing = nestr("manifest", "export", "--to", "west", "--locked")
    assert missing.code == 2
    assert "nestr lock" in missing.err
    lock = {
        "version": 1,
        "manifest_hash": "sha256:0",
        "repos": {
            name: {"url": "u", "revision": "main", "commit": str(i) * 40}
            for i, name in enumerate(["api", "web", "worker"])
        },
    }
    write(cwd / "nestr.lock", yaml.safe_dump(lock))
    result = nestr("manifest", "export", "--to", "vcstool", "--locked")
    repos = yaml.safe_load(result.out)["repositories"]
    assert repos["apps/web"]["version"] == "1" * 40
    del lock["repos"]["web"]
    write(cwd / "nestr.lock", yaml.safe_dump(lock))
    result = nestr("manifest", "export", "--to", "west", "--locked")
    assert result.code == 2
    assert "no locked commit for repo 'web'" in result.err


def test_export_locked_refuses_a_malformed_lock_with_its_location(nestr, cwd: Path) -> None:
    """A lock whose commit is not a commit id is refused at file:line:col with exit 2."""
    write(cwd / "nestr.yaml", EXAMPLE)
    write(
        cwd / "nestr.lock",
        "version: 1\nmanifest_hash: sha256:0\nrepos:\n"
        "  api: {url: u, revision: main, commit: not-a-sha}\n",
    )
    result = nestr("manifest", "export", "--to", "west", "--locked")
    assert result.code == 2
    assert "nestr.lock:4:" in result.err
    assert "repos.api.commit" in result.err
