"""YAML parsing that remembers positions."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nestr.errors import InputError, ManifestError
from nestr.validation import quoted
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
    """An empty file is None data, not an error; its problems are located at its first line."""
    for text in ("", "# only a comment\n"):
        doc = parse_yaml(text, Path("f.yaml"))
        assert doc.data is None
        assert str(doc.locate(())) == "f.yaml:1:1"


@pytest.mark.parametrize(
    ("text", "where", "char"),
    [("a: b\x1bc\n", "1:5", "U+001B"), ("a: 1\nb: é\x00\n", "2:5", "U+0000")],
)
def test_control_characters_are_located(text: str, where: str, char: str) -> None:
    """A character YAML forbids is reported at its line and column, without echoing it."""
    expected = re.escape(f"f.yaml:{where}: YAML syntax error: character {char} is not allowed")
    with pytest.raises(InputError, match=expected):
        parse_yaml(text, Path("f.yaml"))


def test_fifo_and_device_files_are_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO (no writer) or a link to /dev/zero is refused at once instead of read forever."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    for path in (fifo, tmp_path / "zero.yaml"):
        with pytest.raises(InputError, match="not a regular file"):
            load_yaml_file(path)


def test_error_class_is_chosen_by_caller(tmp_path: Path) -> None:
    """Syntax errors and missing files use the caller's error class with a location."""
    bad = tmp_path / "m.yaml"
    bad.write_text("a: b: c\n")
    with pytest.raises(ManifestError, match=r"m.yaml:1:5: YAML syntax error"):
        load_yaml_file(bad, error=ManifestError)
    with pytest.raises(ManifestError, match="file not found"):
        load_yaml_file(tmp_path / "none.yaml", error=ManifestError)


def test_non_utf8_file_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    """A byte that is not UTF-8 is located by line and column (in characters), not offset."""
    bad = tmp_path / "m.yaml"
    bad.write_bytes("a: 1\nb: é".encode() + b"\xff\xfe\n")
    with pytest.raises(ManifestError, match=r"m.yaml:2:5: not valid UTF-8: 0xff cannot") as info:
        load_yaml_file(bad, error=ManifestError)
    assert info.value.hint == "save the file as UTF-8"


def test_format_key_path() -> None:
    """Key paths print the way users write them; a key with control characters is escaped."""
    assert format_key_path(("repos", 3, "path")) == "repos[3].path"
    assert format_key_path(()) == ""
    assert format_key_path(("a\nb", "\x1b]0;T\x07")) == "'a\\nb'.'\\x1b]0;T\\x07'"


def test_quoted_values_never_carry_raw_control_characters() -> None:
    """A value shown in a message has newlines, ESC and BEL escaped as Python writes them."""
    assert quoted("\x1b]0;TITLE\x07") == '"\\x1b]0;TITLE\\x07"'
    assert quoted("a\nb\u2028") == '"a\\nb\\u2028"'
    assert quoted("plain é") == '"plain é"'
