"""A repo's ``.nestr`` (or its sync lock) that is a symlink or not plain is refused for that repo.

nestr never reads or writes its sync state through a link: not to a directory outside the repo,
not through a dangling link, not through a lock file that is a link.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.sync.sync_helpers import Fleet, actions, write_manifest

from nestr.sync import ApplyOptions, sync_status

RULES = {"sources": [{"path": "shared"}], "rules": [{"files": [".editorconfig"]}]}
SYNC = "sync:\n  sources: [{path: shared}]\n  rules:\n    - files: [.editorconfig]\n"


def _fleet(fleet: Callable[..., Fleet]) -> Fleet:
    f = fleet(["api", "web"])
    f.source({".editorconfig": "root = true\n"})
    return f


def _link_outside(f: Fleet, *, dangling: bool = False) -> Path:
    outside = f.root / "outside"
    if not dangling:
        outside.mkdir()
    (f.repo("api") / ".nestr").symlink_to(outside, target_is_directory=True)
    return outside


@pytest.mark.parametrize("commit", [False, True])
@pytest.mark.parametrize("dangling", [False, True])
def test_nestr_dir_symlink_is_refused_and_nothing_is_written_through_it(
    fleet: Callable[..., Fleet], commit: bool, dangling: bool
) -> None:
    """`.nestr -> outside`: that repo errors (exit 2), nothing lands outside, web syncs."""
    f = _fleet(fleet)
    outside = _link_outside(f, dangling=dangling)
    result = f.apply(RULES, ApplyOptions(commit=commit))
    assert result.exit_code() == 2
    api, web = result.repos
    assert api.error is not None
    assert ".nestr in " in api.error.message
    assert "is a symlink (to " in api.error.message
    assert api.error.hint is not None
    assert "plain directory" in api.error.hint
    assert not outside.exists() if dangling else list(outside.iterdir()) == []
    assert not (f.repo("api") / ".editorconfig").exists()
    assert web.error is None
    assert (f.repo("web") / ".editorconfig").read_text() == "root = true\n"
    assert (f.repo("web") / ".nestr/sync.lock").is_file()


def test_lock_file_symlink_is_neither_read_nor_written(fleet: Callable[..., Fleet]) -> None:
    """`.nestr/sync.lock -> outside file`: refused; the outside file keeps its bytes."""
    f = _fleet(fleet)
    f.apply(RULES)
    lock = f.repo("api") / ".nestr/sync.lock"
    outside = f.root / "outside.lock"
    outside.write_text(lock.read_text())
    lock.unlink()
    lock.symlink_to(outside)
    before = outside.read_bytes()
    f.source({".editorconfig": "root = true\nindent_size = 2\n"})
    result = f.apply(RULES)
    assert result.exit_code() == 2
    assert result.repos[0].error is not None
    assert ".nestr/sync.lock in " in result.repos[0].error.message
    assert outside.read_bytes() == before
    assert "indent_size" not in (f.repo("api") / ".editorconfig").read_text()
    assert "indent_size" in (f.repo("web") / ".editorconfig").read_text()


def test_nestr_as_a_plain_file_is_refused(fleet: Callable[..., Fleet]) -> None:
    """A `.nestr` that is a file is a clear error for that repo, not a crash."""
    f = _fleet(fleet)
    (f.repo("api") / ".nestr").write_text("not a directory\n")
    result = f.apply(RULES)
    assert result.repos[0].error is not None
    assert ".nestr in " in result.repos[0].error.message
    assert "is not a directory" in result.repos[0].error.message
    assert actions(result) == {("web", ".editorconfig"): "create"}


def test_cli_dangling_link_is_a_located_error_not_a_crash(
    fleet: Callable[..., Fleet], nestr
) -> None:  # type: ignore[no-untyped-def]
    """The CLI prints the repo's error and hint and exits 2; no crash log, web is synced."""
    f = _fleet(fleet)
    write_manifest(f, SYNC)
    _link_outside(f, dangling=True)
    ws = str(f.workspace.root)
    result = nestr("sync", "apply", "-w", ws)
    assert result.code == 2, result
    assert "api: error: .nestr in " in result.out
    assert "  hint: replace .nestr with a plain directory" in result.out
    assert "unexpected problem" not in result.err
    assert (f.repo("web") / ".editorconfig").is_file()
    status = nestr("sync", "status", "-w", ws, "--json")
    assert status.code == 2, status
    repos = {r["repo"]: r for r in json.loads(status.out)["repos"]}
    assert "is a symlink" in repos["api"]["error"]["message"]
    assert repos["web"]["error"] is None


def test_status_reports_the_refused_repo_and_the_others(fleet: Callable[..., Fleet]) -> None:
    """sync_status gives the refused repo an error and still reads the other repos."""
    f = _fleet(fleet)
    f.apply(RULES)
    outside = f.root / "outside"
    outside.mkdir()
    (outside / "sync.lock").write_text((f.repo("api") / ".nestr/sync.lock").read_text())
    for item in (f.repo("api") / ".nestr").iterdir():
        item.unlink()
    (f.repo("api") / ".nestr").rmdir()
    (f.repo("api") / ".nestr").symlink_to(outside)
    statuses = {s.repo: s for s in sync_status(f.manifest(RULES), f.workspace)}
    assert statuses["api"].error is not None
    assert statuses["api"].files == ()
    assert statuses["web"].error is None
    assert [x.path for x in statuses["web"].files] == [".editorconfig"]
