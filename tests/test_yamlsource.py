"""YAML parsing that remembers positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from nestr.errors import ManifestError
from nestr.yamlsource import format_key_path, load_yaml_file, parse_yaml


def test_positions_of_nested_values_and_keys() -> None:
    """Every value and key has its 1-based line and column."""
    doc = parse_yaml("a:\n  b: [1, {c: x}]\n", Path("f.yaml"))
    assert doc.data == {"a": {"b": [1, {"c": "x"}]}}
    assert (doc.locate(("a", "b", 1, "c")).line, doc.locate(("a", "b", 1, "c")).column) == (2, 14)
    assert doc.locate_key(("a", "b")).column == 3
    assert doc.locate(("a", "b", 0)).column == 7


def test_locate_falls_back_to_nearest_ancestor() -> None:
    """A path that does not exist (a missing key) is located at its parent."""
    doc = parse_yaml("a:\n  b: 1\n", Path("f.yaml"))
    assert doc.locate(("a", "missing")).line == 2
    assert doc.locate(("zzz",)).line == 1


def test_empty_document() -> None:
    """An empty file is None data, not an error."""
    assert parse_yaml("", Path("f.yaml")).data is None


def test_error_class_is_chosen_by_caller(tmp_path: Path) -> None:
    """Syntax errors and missing files use the caller's error class with a location."""
    bad = tmp_path / "m.yaml"
    bad.write_text("a: b: c\n")
    with pytest.raises(ManifestError, match=r"m.yaml:1:5: YAML syntax error"):
        load_yaml_file(bad, error=ManifestError)
    with pytest.raises(ManifestError, match="file not found"):
        load_yaml_file(tmp_path / "none.yaml", error=ManifestError)


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    """A file that is not UTF-8 gets a clear error, not a decode traceback."""
    bad = tmp_path / "m.yaml"
    bad.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ManifestError, match="cannot read file"):
        load_yaml_file(bad, error=ManifestError)


def test_format_key_path() -> None:
    """Key paths print the way users write them."""
    assert format_key_path(("repos", 3, "path")) == "repos[3].path"
    assert format_key_path(()) == ""
