"""Repo paths stay in the workspace and out of `.git`/`.nestr`; names never lead out."""

from __future__ import annotations

from pathlib import Path

import pytest

from nestr.errors import ManifestError
from nestr.manifest.loader import load_manifest
from nestr.manifest.paths import BadPath, check_repo_name, normalize_repo_path
from nestr.testing import GitRepo

REFUSED_PATHS = [
    (".git", "'.git'"),
    ("app/.git/hooks", "'.git'"),
    ("app/.GIT/hooks", "'.git'"),
    ("app/.Git./hooks", "'.git'"),
    ("app/.git  /hooks", "'.git'"),
    ("app/.git::$INDEX_ALLOCATION/hooks", "'.git'"),
    ("app/GIT~1/hooks", "'.git'"),
    (".nestr", "'.nestr'"),
    (".nestr/tmp", "'.nestr'"),
    (".NESTR./x", "'.nestr'"),
    ("~/x", "starts with '~'"),
    ("~user", "starts with '~'"),
    (" ", "only whitespace"),
    ("a/ /b", "only whitespace"),
    ("a/\t/b", "control characters"),
    ("a\nb", "control characters"),
    ("a\x7fb", "control characters"),
    ("a\x85b", "control characters"),
    ("../x", "leaves the workspace"),
    ("/srv/a", "absolute path"),
]


@pytest.mark.parametrize(("raw", "words"), REFUSED_PATHS, ids=[r for r, _ in REFUSED_PATHS])
def test_path_into_git_nestr_home_or_with_control_characters_is_refused(
    raw: str, words: str
) -> None:
    """Each of these would plant files in git's or nestr's data, or is not a plain path."""
    with pytest.raises(BadPath) as info:
        normalize_repo_path(raw)
    assert words in str(info.value)
    assert info.value.hint


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("apps/web", "apps/web"),
        ("a//b/", "a/b"),
        (".github/x", ".github/x"),
        ("a/.gitignore", "a/.gitignore"),
        ("a/.git-stuff", "a/.git-stuff"),
        ("tools/.nestr", "tools/.nestr"),
        ("a/~b", "a/~b"),
        ("weird name", "weird name"),
    ],
)
def test_ordinary_paths_are_kept(raw: str, normal: str) -> None:
    """Names that only look like `.git`/`.nestr`, or hold them further down, are fine."""
    assert normalize_repo_path(raw) == normal


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("../../../../tmp/x", "leaves the workspace"),
        ("a/../../b", "leaves the workspace"),
        ("/tmp/x", "absolute name"),
        ("a\x01b", "control characters"),
        ("a\x1b[31mred", "control characters"),
    ],
)
def test_name_that_leads_out_or_holds_control_characters_is_refused(raw: str, words: str) -> None:
    """A name may contain '/', but never '..', a leading '/' or control characters."""
    with pytest.raises(BadPath) as info:
        check_repo_name(raw)
    assert words in str(info.value)
    assert info.value.hint


def test_name_with_slashes_is_fine() -> None:
    """`group/repo` names stay allowed."""
    check_repo_name("platform/config")


HEAD = "version: 1\nrepos:\n"


@pytest.mark.parametrize(
    ("entry", "where", "field", "words"),
    [
        ("  - {name: evil, url: /x.git, path: app/.git/hooks}\n", "3:37", "repos[0].path", ".git"),
        ('  - {name: e, url: /x.git, path: ".nestr/tmp"}\n', "3:34", "repos[0].path", ".nestr"),
        ('  - {name: e, url: /x.git, path: "a\\nb"}\n', "3:34", "repos[0].path", "control"),
        ('  - {name: "a/../../b", url: /x.git, path: b}\n', "3:12", "repos[0].name", "'..'"),
        ('  - {name: "a\\x01", url: /x.git, path: b}\n', "3:12", "repos[0].name", "control"),
        ("  - {name: .git, url: /x.git}\n", "3:12", "repos[0].name", ".git"),
    ],
)
def test_refusal_is_located_with_field_and_hint(
    cwd: Path, entry: str, where: str, field: str, words: str
) -> None:
    """The loader reports the refused node with file:line:col, the field and a hint (exit 2)."""
    (cwd / "nestr.yaml").write_text(HEAD + entry, encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        load_manifest(cwd / "nestr.yaml")
    error = info.value
    assert error.exit_code == 2
    assert error.location is not None
    assert f"{error.location.line}:{error.location.column}" == where
    assert error.field == field
    assert words in error.detail
    assert error.hint


@pytest.fixture
def hook_repo(tmp_path: Path) -> tuple[GitRepo, Path]:
    """A real repo whose content is a `post-checkout` hook that leaves a marker file."""
    marker = tmp_path / "HOOK-RAN"
    hook = f'#!/bin/sh\necho "hook ran in $PWD" >> "{marker}"\n'
    repo = GitRepo.init(tmp_path / "evil", files={"post-checkout": hook})
    (repo.path / "post-checkout").chmod(0o700)
    repo.commit({"post-checkout": hook + "# executable\n"})
    return repo, marker


def test_repo_planted_as_hooks_is_refused_and_no_hook_runs(
    nestr, tmp_path: Path, hook_repo: tuple[GitRepo, Path]
) -> None:
    """A manifest that puts a repo at `app/.git/hooks` is refused before anything is cloned,
    so no later checkout of `app` can run the planted hook."""
    evil, marker = hook_repo
    app = GitRepo.init(tmp_path / "app", files={"a.txt": "a\n"})
    app.tag("v1")
    app.commit({"a.txt": "b\n"})
    manifest = tmp_path / "project" / "nestr.yaml"
    manifest.parent.mkdir()
    body = (
        "version: 1\nrepos:\n"
        f"  - {{name: app, url: {app.url}, revision: REV}}\n"
        f"  - {{name: evil, url: {evil.url}, path: app/.git/hooks}}\n"
    )
    ws = tmp_path / "ws"
    for revision in ("main", "v1"):
        manifest.write_text(body.replace("REV", revision), encoding="utf-8")
        validate = nestr("manifest", "validate", "-m", str(manifest))
        assert validate.code == 2
        assert "nestr.yaml:4:" in validate.err
        assert "repos[1].path" in validate.err
        assembled = nestr("assemble", "-m", str(manifest), "-w", str(ws))
        assert assembled.code == 2
        assert "'.git'" in assembled.err
        assert "Traceback" not in assembled.err
    assert not marker.exists()
    assert not (ws / "app" / ".git" / "hooks" / "post-checkout").exists()
