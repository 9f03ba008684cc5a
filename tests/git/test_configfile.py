"""Writing a fresh clone's origin URL in Python: git reads back exactly the string written."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nestr.git import configfile
from nestr.testing import GitRepo, git

_TEMPLATE: dict[str, Path] = {}
AWKWARD = [
    "https://example.com/org/api.git",
    "/srv/git/with space/api",
    " leading and trailing ",
    "semi;colon#hash",
    'quote"and\\backslash',
    "tab\tinside",
    "line\nbreak",
    "carriage\rreturn",
    "ünïcode/ŕepo",
    "",
]


@pytest.fixture
def clone(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone with a plain ``[remote "origin"]`` section, as `git clone` writes it."""
    if "clone" not in _TEMPLATE:
        root = tmp_path_factory.mktemp("configfile")
        up = GitRepo.init(root / "up")
        git(root, "clone", "--quiet", "--shared", str(up.path), str(root / "clone"))
        _TEMPLATE["clone"] = root / "clone"
    shutil.copytree(_TEMPLATE["clone"], tmp_path / "clone", symlinks=True)
    return tmp_path / "clone"


@pytest.mark.parametrize("url", AWKWARD)
def test_written_url_is_what_git_reads(clone: Path, url: str) -> None:
    """Quotes, escapes, comment characters and edge blanks survive the round trip through git."""
    config = clone / ".git" / "config"
    assert configfile.replace_value(config, "remote", "origin", "url", url)
    assert git_raw(clone, "config", "-z", "--get", "remote.origin.url") == url
    assert configfile.read_value(config, "remote", "origin", "url") == url
    assert git(clone, "config", "--get", "remote.origin.fetch")  # the rest is intact


@given(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_round_trips_through_git(clone: Path, url: str) -> None:
    """Whatever the URL, git's reading of the written line equals it, and so does ours."""
    config = clone / ".git" / "config"
    assert configfile.replace_value(config, "remote", "origin", "url", url)
    assert git_raw(clone, "config", "-z", "--get", "remote.origin.url") == url
    assert configfile.read_value(config, "remote", "origin", "url") == url


def test_values_git_wrote_are_parsed_like_git(clone: Path) -> None:
    """A value written by `git config` (its own quoting) is read back unchanged."""
    for url in AWKWARD:
        git(clone, "config", "remote.origin.url", url)
        assert configfile.read_value(clone / ".git" / "config", "remote", "origin", "url") == url


def test_unusual_sections_are_left_to_git(clone: Path) -> None:
    """Two url lines, or none, make the writer refuse without touching the file."""
    config = clone / ".git" / "config"
    git(clone, "config", "--add", "remote.origin.url", "second")
    before = config.read_bytes()
    assert not configfile.replace_value(config, "remote", "origin", "url", "x")
    assert not configfile.replace_value(config, "remote", "upstream", "url", "x")
    assert config.read_bytes() == before


def git_raw(cwd: Path, *args: str) -> str:
    """Output of a ``-z`` git query, without the trailing NUL (nothing else stripped)."""
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True).stdout
    return out.decode("utf-8").removesuffix("\x00")
