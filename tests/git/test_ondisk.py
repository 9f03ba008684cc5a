"""nestr.git.ondisk: the git.write_clones switch, the covered git versions and the layout check."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from nestr.git.ondisk import (
    COVERED_GIT,
    VERSION_FILE,
    WriteClones,
    covered,
    installed_git_version,
    supported_layout,
    version_key,
    writes_git_files,
)
from nestr.git.runner import git_version
from nestr.testing import git


def _asked(answer: str | None, calls: list[str]) -> Callable[[], str | None]:
    def version() -> str | None:
        calls.append("asked")
        return answer

    return version


def test_version_keys_and_the_covered_range() -> None:
    """Release, vendor and rc spellings read as (major, minor); only the covered range counts."""
    assert version_key("2.39.5") == (2, 39)
    assert version_key("2.39.5.windows.1") == (2, 39)
    assert version_key("2.45.0.rc1") == (2, 45)
    assert version_key("garbage") is None
    low, high = COVERED_GIT
    assert covered(f"{low[0]}.{low[1]}.0")
    assert covered(f"{high[0]}.{high[1]}.9")
    assert not covered(f"{high[0]}.{high[1] + 1}.0")
    assert not covered(f"{low[0]}.{low[1] - 1}.0")
    assert not covered(None)


def test_auto_asks_the_version_true_and_false_do_not() -> None:
    """auto follows the version (asked once, lazily); true and false never ask it."""
    calls: list[str] = []
    assert writes_git_files("auto", _asked("2.39.1", calls))
    assert not writes_git_files("auto", _asked("9.0.0", calls))
    assert calls == ["asked", "asked"]
    assert writes_git_files(True, _asked("9.0.0", calls))
    assert not writes_git_files(False, _asked("2.39.1", calls))
    assert calls == ["asked", "asked"]


def test_switch_can_pretend_another_git_version() -> None:
    """WriteClones("auto", version=...) decides by the pretended version, not the installed one."""
    assert not WriteClones("auto", version="3.0.0").enabled
    assert WriteClones("auto", version=f"{COVERED_GIT[1][0]}.{COVERED_GIT[1][1]}.0").enabled
    assert WriteClones(True, version="3.0.0").enabled
    assert not WriteClones(False).enabled


def test_installed_version_is_remembered_per_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version is asked once per git executable and cache; another git is asked again."""
    real = shutil.which("git")
    assert real is not None
    log = tmp_path / "calls"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    cache = tmp_path / "cache"
    first = installed_git_version(cache)
    assert first == git_version()
    assert installed_git_version(cache) == first
    assert log.read_text().splitlines().count("--version") == 2  # ours, and git_version() above
    memo = json.loads((cache / VERSION_FILE).read_text())
    assert memo["git"]["path"] == str(wrapper)
    wrapper.write_text(wrapper.read_text() + "# another build\n")  # size changes
    assert installed_git_version(cache) == first
    assert log.read_text().splitlines().count("--version") == 3


def test_layout_check_accepts_plain_repositories_only(tmp_path: Path) -> None:
    """A SHA-1 files-backend repository passes; SHA-256, a reftable stub HEAD, a reftable
    directory or a missing refs/ fail, so nothing is written into them."""
    git(tmp_path, "init", "--quiet", "plain")
    git(tmp_path, "init", "--quiet", "--bare", "bare.git")
    git(tmp_path, "init", "--quiet", "--object-format=sha256", "sha256")
    assert supported_layout(tmp_path / "plain" / ".git")
    assert supported_layout(tmp_path / "bare.git")
    assert not supported_layout(tmp_path / "sha256" / ".git")
    stub = tmp_path / "stub"
    shutil.copytree(tmp_path / "bare.git", stub)
    (stub / "HEAD").write_text("ref: refs/heads/.invalid\n")
    assert not supported_layout(stub)
    table = tmp_path / "table"
    shutil.copytree(tmp_path / "bare.git", table)
    (table / "reftable").mkdir()
    assert not supported_layout(table)
    shutil.rmtree(tmp_path / "bare.git" / "refs")
    assert not supported_layout(tmp_path / "bare.git")
    assert not supported_layout(tmp_path / "missing")
