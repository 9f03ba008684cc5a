"""Every bad manifest is refused with file:line:col, the field, what is wrong and a fix (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nestr.errors import ManifestError, MultipleInputErrors
from nestr.manifest.loader import load_manifest

HEAD = (
    "version: 1\nremotes:\n  - name: origin\n    url_base: https://h.example\n"
    "defaults:\n  remote: origin\n"
)

# (id, manifest text, "line:col", field, words in the message, words in the hint)
CASES = [
    (
        "dotdot",
        HEAD + "repos:\n  - name: a\n    path: ../outside\n",
        "9:11",
        "repos[0].path",
        "leaves the workspace",
        "without '..'",
    ),
    (
        "absolute",
        HEAD + "repos:\n  - name: a\n    path: /srv/a\n",
        "9:11",
        "repos[0].path",
        "absolute path '/srv/a'",
        "e.g. srv/a",
    ),
    (
        "dotdot-in-name",
        HEAD + "repos:\n  - name: ..\n",
        "8:11",
        "repos[0].name",
        "leaves the workspace",
        "without '..'",
    ),
    (
        "duplicate-path",
        HEAD + "repos:\n  - name: a\n    path: x/y\n  - name: b\n    path: x//y/\n",
        "11:11",
        "repos[1].path",
        "same path as 'a'",
        "own path",
    ),
    (
        "duplicate-name",
        HEAD + "repos:\n  - name: a\n  - name: a\n    path: other\n",
        "9:11",
        "repos[1].name",
        "'a' is defined twice",
        "first defined at nestr.yaml:8:11",
    ),
    (
        "unknown-key",
        HEAD + "repos:\n  - name: a\n    revison: main\n",
        "9:5",
        "repos[0].revison",
        "unknown key",
        "did you mean 'revision'?",
    ),
    (
        "unknown-top-key",
        HEAD + "repo:\n  - name: a\n",
        "7:1",
        "repo",
        "unknown key",
        "did you mean 'repos'?",
    ),
    (
        "wrong-type",
        HEAD + "repos:\n  - name: a\n    groups: backend\n",
        "9:5",
        "repos[0].groups",
        'valid list; got "backend"',
        None,
    ),
    (
        "wrong-depth",
        HEAD + "repos:\n  - name: a\n    clone: {depth: 0}\n",
        "9:13",
        "repos[0].clone.depth",
        "greater than 0; got 0",
        None,
    ),
    (
        "unknown-remote",
        HEAD + "repos:\n  - name: a\n    remote: origni\n",
        "9:13",
        "repos[0].remote",
        "unknown remote 'origni'",
        "did you mean 'origin'?",
    ),
    (
        "unknown-default-remote",
        HEAD.replace("remote: origin", "remote: upstream") + "repos:\n  - name: a\n",
        "6:11",
        "defaults.remote",
        "unknown remote 'upstream'",
        "defined remotes: origin",
    ),
    (
        "url-and-remote",
        HEAD + "repos:\n  - name: a\n    url: https://x/a\n    remote: origin\n",
        "10:13",
        "repos[0].remote",
        "either url or remote",
        "remove remote",
    ),
    (
        "no-url",
        "version: 1\nrepos:\n  - name: a\n",
        "3:5",
        "repos[0]",
        "neither url nor remote",
        "defaults.remote",
    ),
    (
        "bad-version",
        "version: 2\nrepos: []\n",
        "1:1",
        "version",
        "expected one of 1; got 2",
        None,
    ),
    (
        "missing-version",
        "repos: []\n",
        "1:1",
        "version",
        "required but missing",
        None,
    ),
    (
        "bad-group",
        HEAD + "repos:\n  - name: a\n    groups: [-x]\n",
        "9:14",
        "repos[0].groups[0]",
        "invalid group name '-x'",
        None,
    ),
    (
        "bad-filter",
        HEAD + "group_filter: [docs]\nrepos: []\n",
        "7:16",
        "group_filter[0]",
        "write +group or -group",
        None,
    ),
    (
        "revision-option",
        HEAD + "repos:\n  - name: a\n    revision: --since=yesterday\n",
        "9:5",
        "repos[0].revision",
        "starts with '-' (git would read it as an option)",
        None,
    ),
    (
        "revision-range",
        HEAD + "repos:\n  - name: a\n    revision: main..dev\n",
        "9:5",
        "repos[0].revision",
        "contains '..'",
        None,
    ),
    (
        "revision-control-char",
        HEAD + 'repos:\n  - name: a\n    revision: "main\\nx"\n',
        "9:5",
        "repos[0].revision",
        "whitespace or a control character; write a branch, tag or commit id",
        None,
    ),
    (
        "default-revision-option",
        HEAD + "  revision: --upload-pack=touch\nrepos: []\n",
        "7:3",
        "defaults.revision",
        "starts with '-'",
        None,
    ),
    ("yaml-syntax", HEAD + "repos: [\n  - name: a\n", "8:3", None, "YAML syntax error", None),
    ("empty", "", "1:1", None, "found an empty file", "version: 1"),
    ("not-a-mapping", "- a\n- b\n", "1:1", None, "found a list", "version: 1"),
]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "where", "field", "message", "hint"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_manifest_is_refused_with_location_field_and_fix(
    cwd: Path, text: str, where: str, field: str | None, message: str, hint: str | None
) -> None:
    """The library raises one ManifestError at the offending node, with field, reason and hint."""
    path = write(cwd / "nestr.yaml", text)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    error = info.value
    assert error.exit_code == 2
    assert error.location is not None
    assert f"{error.location.line}:{error.location.column}" == where
    assert error.field == field
    assert message in error.detail
    if hint is not None:
        assert error.hint is not None
        assert hint in error.hint


@pytest.mark.parametrize(
    ("text", "where", "field", "message"),
    [case[1:5] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_cli_refuses_bad_manifest_with_exit_2_and_location(
    nestr, cwd: Path, text: str, where: str, field: str | None, message: str
) -> None:
    """`nestr manifest validate` prints file:line:col, field and reason, exits 2, no traceback."""
    write(cwd / "nestr.yaml", text)
    result = nestr("manifest", "validate")
    assert result.code == 2
    prefix = f"nestr.yaml:{where}: {field}: " if field else f"nestr.yaml:{where}: "
    assert prefix in result.err
    assert message in result.err
    assert "Traceback" not in result.err
    assert result.out == ""


def test_several_errors_of_one_file_are_reported_together(nestr, cwd: Path) -> None:
    """Independent problems of one file come out in one run, each with its own location."""
    text = (
        HEAD + "repos:\n  - name: a\n    path: /abs\n  - name: b\n    remote: nope\n"
        "  - name: c\n    path: ../c\n"
    )
    path = write(cwd / "nestr.yaml", text)
    with pytest.raises(MultipleInputErrors) as info:
        load_manifest(path)
    assert [(e.location.line, e.field) for e in info.value.errors if e.location] == [
        (9, "repos[0].path"),
        (11, "repos[1].remote"),
        (13, "repos[2].path"),
    ]
    result = nestr("manifest", "validate")
    assert result.code == 2
    for line in ("nestr.yaml:9:11", "nestr.yaml:11:13", "nestr.yaml:13:11"):
        assert line in result.err
    assert "\nhint: defined remotes: origin\n" in result.err  # each error keeps its own hint


def test_pydantic_errors_of_one_file_are_reported_together(cwd: Path) -> None:
    """Several type errors in one file are all reported, each at its own key, in file order."""
    text = HEAD + "repos:\n  - name: a\n    revison: x\n    groups: 3\n"
    with pytest.raises(MultipleInputErrors) as info:
        load_manifest(write(cwd / "nestr.yaml", text))
    assert [e.field for e in info.value.errors] == ["repos[0].revison", "repos[0].groups"]


def test_import_cycle_is_refused_naming_the_chain(nestr, cwd: Path) -> None:
    """a imports b imports a: the error sits at b's import and names a → b → a."""
    write(cwd / "nestr.yaml", "version: 1\nimports:\n  - path: sub/b.yaml\n")
    write(cwd / "sub" / "b.yaml", "version: 1\nrepos: []\nimports:\n  - path: ../nestr.yaml\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(cwd / "nestr.yaml")
    assert info.value.detail == "import cycle: nestr.yaml → sub/b.yaml → nestr.yaml"
    result = nestr("manifest", "validate")
    assert result.code == 2
    assert "sub/b.yaml:4:11: imports[0].path: import cycle" in result.err


def test_self_import_is_a_cycle(cwd: Path) -> None:
    """A manifest importing itself is refused as a cycle, not followed forever."""
    write(cwd / "nestr.yaml", "version: 1\nimports: [{path: ./nestr.yaml}]\n")
    with pytest.raises(ManifestError, match="import cycle"):
        load_manifest(cwd / "nestr.yaml")


def test_missing_import_is_refused_at_the_import(nestr, cwd: Path) -> None:
    """An import of a file that does not exist points at the import entry."""
    write(cwd / "nestr.yaml", "version: 1\nimports:\n  - path: gone.yaml\n")
    result = nestr("manifest", "validate")
    assert result.code == 2
    assert "nestr.yaml:3:11: imports[0].path: imported manifest 'gone.yaml' not found" in result.err


def test_error_in_an_imported_file_names_that_file(nestr, cwd: Path) -> None:
    """A bad imported manifest is reported at its own file:line:col."""
    write(cwd / "nestr.yaml", "version: 1\nimports:\n  - path: lib/nestr.yaml\n")
    write(cwd / "lib" / "nestr.yaml", "version: 1\nrepos:\n  - name: x\n    url: 5\n")
    result = nestr("manifest", "validate")
    assert result.code == 2
    assert "lib/nestr.yaml:4:5: repos[0].url: input should be a valid string; got 5" in result.err


def test_same_path_across_imports_is_refused(cwd: Path) -> None:
    """Two differently named repos at one path, one of them imported, are refused."""
    write(cwd / "lib.yaml", "version: 1\nrepos: [{name: b, url: 'https://h/b', path: x}]\n")
    write(
        cwd / "nestr.yaml",
        "version: 1\nimports: [{path: lib.yaml}]\n"
        "repos: [{name: a, url: 'https://h/a', path: x}]\n",
    )
    with pytest.raises(ManifestError, match="same path 'x' as 'a'") as info:
        load_manifest(cwd / "nestr.yaml")
    assert info.value.location is not None
    assert info.value.location.file == cwd / "lib.yaml"


def test_duplicate_yaml_key_is_refused(cwd: Path) -> None:
    """A key given twice in one mapping is an error, not silently the last value."""
    write(cwd / "nestr.yaml", "version: 1\nrepos: []\nrepos: []\n")
    with pytest.raises(ManifestError, match="duplicate key 'repos'") as info:
        load_manifest(cwd / "nestr.yaml")
    assert info.value.location is not None
    assert info.value.location.line == 3


def test_remote_defined_twice_is_refused(cwd: Path) -> None:
    """Two remotes with one name are refused at the second one."""
    text = HEAD.replace("defaults:", "  - {name: origin, url_base: 'https://other'}\ndefaults:")
    with pytest.raises(ManifestError, match="remote 'origin' is defined twice") as info:
        load_manifest(write(cwd / "nestr.yaml", text))
    assert info.value.location is not None
    assert info.value.location.line == 5
