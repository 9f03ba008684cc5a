"""The sync: section is validated with positions: every bad rule names file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from nestr.errors import ManifestError, MultipleInputErrors
from nestr.manifest.loader import load_manifest
from nestr.sync import Policy, load_sync_config

HEAD = """version: 1
repos:
  - {name: api, url: file:///x/api, groups: [backend]}
  - {name: web, url: file:///x/web}
  - {name: platform-config, url: file:///x/platform}
"""


def _load(tmp_path: Path, sync: str) -> ManifestError:
    (tmp_path / "shared").mkdir(exist_ok=True)
    path = tmp_path / "nestr.yaml"
    path.write_text(HEAD + sync, encoding="utf-8")
    manifest = load_manifest(path)
    with pytest.raises(ManifestError) as info:
        load_sync_config(manifest)
    return info.value


def test_valid_rules_become_domain_values(tmp_path: Path) -> None:
    """A full sync: section loads into sources, vars and rules with defaults applied."""
    (tmp_path / "shared").mkdir()
    path = tmp_path / "nestr.yaml"
    path.write_text(
        HEAD
        + """sync:
  sources:
    - path: shared
    - {name: platform, repo: platform-config}
  vars: {org: materi}
  rules:
    - {files: [settings.cfg.j2], dest: settings.cfg, template: true, policy: merge}
    - source: platform
      files: [".github/workflows/*.yml"]
      repos: {groups: [backend], exclude: [web]}
      mode: "0755"
""",
        encoding="utf-8",
    )
    config = load_sync_config(load_manifest(path))
    assert [s.name for s in config.sources] == ["shared", "platform"]
    assert config.sources[0].directory == (tmp_path / "shared").resolve()
    assert config.sources[1].repo == "platform-config"
    first, second = config.rules
    assert first.source == "shared"
    assert first.template
    assert first.policy is Policy.MERGE
    assert second.source == "platform"
    assert second.mode == 0o755
    assert second.selector.groups == ("backend",)
    assert second.location.line == 13


@pytest.mark.parametrize(
    ("rule", "message", "line", "column"),
    [
        ("{files: [a], dest: /etc/passwd}", "expected a relative path", 9, 26),
        ("{files: [a], dest: ../other/a}", "leads outside the repo", 9, 26),
        ("{files: [../secret]}", "leads outside the repo", 9, 16),
        ("{files: [a], dest: .git/hooks/pre-commit}", "inside .git", 9, 26),
        ("{files: [a], dest: .nestr/sync.lock}", "inside .nestr", 9, 26),
        ("{files: [.nestr/sync.lock]}", "inside .nestr", 9, 16),
        ("{files: [a], source: nope}", "no source named 'nope'", 9, 28),
        ("{files: [a], repos: {names: [apj]}}", "no repo named 'apj'", 9, 36),
        ("{files: [a], repos: {groups: [frontend]}}", "no repo is in group", 9, 37),
        ("{files: [a], policy: sometimes}", "expected one of", 9, 20),
        ("{files: [a], mode: rwx}", "should match pattern", 9, 20),
        ("{files: [a], dset: b}", "unknown key", 9, 20),
        ("{files: ['*.cfg'], policy: managed-block}", "exactly one file", 9, 15),
    ],
)
def test_bad_rules_are_refused_with_their_position(
    tmp_path: Path, rule: str, message: str, line: int, column: int
) -> None:
    """Each bad rule value is a ManifestError at the value's line and column, exit code 2."""
    error = _load(tmp_path, f"sync:\n  sources: [{{path: shared}}]\n  rules:\n    - {rule}\n")
    assert message in error.message
    assert error.location is not None
    assert (error.location.line, error.location.column) == (line, column)
    assert error.exit_code == 2


def test_unknown_key_gets_a_suggestion(tmp_path: Path) -> None:
    """A misspelt rule key gets a did-you-mean hint."""
    error = _load(
        tmp_path, "sync:\n  sources: [{path: shared}]\n  rules:\n    - {files: [a], dset: b}\n"
    )
    assert error.hint == "did you mean 'dest'?"


def test_source_must_set_path_or_repo(tmp_path: Path) -> None:
    """A source with both path and repo is refused."""
    error = _load(tmp_path, "sync:\n  sources: [{path: shared, repo: api}]\n")
    assert "exactly one of" in error.message


def test_missing_source_directory_is_refused(tmp_path: Path) -> None:
    """A source directory that does not exist is refused at its position."""
    error = _load(tmp_path, "sync:\n  sources: [{path: nowhere}]\n")
    assert "does not exist" in error.message
    assert error.location is not None
    assert error.location.line == 7


def test_unknown_config_repo_is_refused(tmp_path: Path) -> None:
    """A repo source must name a repo of the manifest."""
    error = _load(tmp_path, "sync:\n  sources: [{repo: platform-confg}]\n")
    assert "no repo named 'platform-confg'" in error.message
    assert error.hint == "did you mean 'platform-config'?"


def test_duplicate_source_names_are_refused(tmp_path: Path) -> None:
    """Two sources with one name are ambiguous."""
    error = _load(tmp_path, "sync:\n  sources: [{path: shared}, {name: shared, repo: api}]\n")
    assert "two sources are named 'shared'" in error.message


def test_every_bad_source_and_rule_is_reported_at_once(tmp_path: Path) -> None:
    """load_sync_config raises all problems of the section together, a type error in one rule
    not hiding the path and name problems of the others."""
    (tmp_path / "shared").mkdir()
    path = tmp_path / "nestr.yaml"
    path.write_text(
        HEAD
        + """sync:
  sources: [{path: shared}, {repo: apj}]
  rules:
    - {files: [a], mode: rwx}
    - {files: [../a]}
    - {files: [a], repos: {groups: [frontend]}}
""",
        encoding="utf-8",
    )
    with pytest.raises(MultipleInputErrors) as info:
        load_sync_config(load_manifest(path))
    assert [(e.location.line if e.location else None, e.field) for e in info.value.errors] == [
        (7, "sync.sources[1].repo"),
        (9, "sync.rules[0].mode"),
        (10, "sync.rules[1].files[0]"),
        (11, "sync.rules[2].repos.groups[0]"),
    ]


def test_problems_after_a_mistyped_source_keep_their_own_index(tmp_path: Path) -> None:
    """A duplicate source name after a mistyped source is reported at its own entry, and rules
    are not blamed for naming sources while the sources do not all type-check."""
    (tmp_path / "shared").mkdir()
    path = tmp_path / "nestr.yaml"
    path.write_text(
        HEAD
        + "sync:\n  sources: [{path: shared, bogus: 1}, {path: shared}, {path: shared}]\n"
        + "  rules: [{files: [a], source: elsewhere}]\n",
        encoding="utf-8",
    )
    with pytest.raises(MultipleInputErrors) as info:
        load_sync_config(load_manifest(path))
    assert [e.field for e in info.value.errors] == ["sync.sources[0].bogus", "sync.sources[2]"]
