"""`nestr status`: table and JSON for people and machines, selection, lock drift, exit codes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import HandmadeWorkspace


def test_json_shape_of_a_clean_workspace(handmade: Callable[..., HandmadeWorkspace], nestr) -> None:  # type: ignore[no-untyped-def]
    """--json prints the documented shape for every repo, in manifest order, and exits 0."""
    hw = handmade()
    result = nestr("status", "-w", str(hw.root), "--json")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert data["workspace"] == str(hw.root)
    assert data["manifest"] == str(hw.manifest.path)
    assert data["lock_file"] is None
    api = data["repos"][0]
    assert [r["name"] for r in data["repos"]] == ["api", "web", "lib"]
    assert api == {
        "name": "api",
        "path": "src/api",
        "revision": "main",
        "state": "ok",
        "error": None,
        "branch": "main",
        "detached": False,
        "commit": hw.origins["api"].head(),
        "upstream": "origin/main",
        "ahead": 0,
        "behind": 0,
        "changes": {"staged": 0, "unstaged": 0, "untracked": 0, "conflicted": 0},
        "dirty": False,
        "lock": None,
    }


def test_table_shows_changes_missing_and_summary(
    handmade: Callable[..., HandmadeWorkspace],
    nestr,  # type: ignore[no-untyped-def]
) -> None:
    """The table names each repo, its dirty counts, a missing repo, and a summary line."""
    hw = handmade(clone=["api", "lib"])
    hw.repo("api").write({"new.txt": "x"})
    result = nestr("status", "-w", str(hw.root))
    assert result.code == 0, result
    assert "1 untracked" in result.out
    assert "not assembled" in result.out
    assert "3 repos: 1 dirty, 1 not assembled" in result.out


def test_found_from_inside_the_workspace(
    handmade: Callable[..., HandmadeWorkspace],
    nestr,  # type: ignore[no-untyped-def]
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """Run inside a repo of the workspace, status finds the workspace and its manifest."""
    hw = handmade()
    monkeypatch.chdir(hw.root / "src/web")
    result = nestr("status", "--json")
    assert result.code == 0, result
    assert len(json.loads(result.out)["repos"]) == 3


def test_group_and_repo_selection(handmade: Callable[..., HandmadeWorkspace], nestr) -> None:  # type: ignore[no-untyped-def]
    """-g picks the repos of a group, --repo adds named ones."""
    hw = handmade()
    by_group = json.loads(nestr("status", "-w", str(hw.root), "-g", "frontend", "--json").out)
    assert [r["name"] for r in by_group["repos"]] == ["web", "lib"]
    by_name = json.loads(nestr("status", "-w", str(hw.root), "--repo", "lib", "--json").out)
    assert [r["name"] for r in by_name["repos"]] == ["lib"]


def test_unknown_repo_or_group_is_a_usage_error(
    handmade: Callable[..., HandmadeWorkspace],
    nestr,  # type: ignore[no-untyped-def]
) -> None:
    """An unknown --repo or -g exits 2 with a did-you-mean hint."""
    hw = handmade()
    result = nestr("status", "-w", str(hw.root), "--repo", "wbe")
    assert result.code == 2
    assert "wbe" in result.err
    assert "did you mean 'web'" in result.err
    result = nestr("status", "-w", str(hw.root), "-g", "backnd")
    assert result.code == 2
    assert "did you mean 'backend'" in result.err


def test_lock_drift_from_the_lock_file(handmade: Callable[..., HandmadeWorkspace], nestr) -> None:  # type: ignore[no-untyped-def]
    """With nestr.lock beside the manifest, a repo whose HEAD moved shows drift; others match."""
    hw = handmade()
    old = hw.repo("web").head()
    hw.write_lock({"api": hw.repo("api").head(), "web": old})
    new = hw.repo("web").commit({"moved.txt": "1"})
    data = json.loads(nestr("status", "-w", str(hw.root), "--json").out)
    lock = {r["name"]: r["lock"] for r in data["repos"]}
    assert data["lock_file"] == str(hw.manifest.root / "nestr.lock")
    assert lock["api"]["state"] == "match"
    assert lock["web"] == {"commit": old, "state": "drift"}
    assert lock["lib"] == {"commit": None, "state": "unlocked"}
    table = nestr("status", "-w", str(hw.root)).out
    assert f"drift: locked {old[:10]}" in table
    assert new[:10] in table


def test_unreadable_repo_exits_1(handmade: Callable[..., HandmadeWorkspace], nestr) -> None:  # type: ignore[no-untyped-def]
    """When git cannot read a repo the command still reports all repos but exits 1."""
    hw = handmade()
    lib = hw.root / "src/lib"
    shutil.rmtree(lib / ".git")
    (lib / ".git").write_text("gitdir: /nonexistent\n", encoding="utf-8")
    result = nestr("status", "-w", str(hw.root), "--json")
    assert result.code == 1
    states = [r["state"] for r in json.loads(result.out)["repos"]]
    assert states == ["ok", "ok", "error"]


def test_not_a_workspace_is_a_usage_error(nestr, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """-w on a directory without a workspace record exits 2 and says how to make one."""
    result = nestr("status", "-w", str(tmp_path))
    assert result.code == 2
    assert "not a nestr workspace" in result.err
