"""``sync apply --commit`` commits exactly what nestr wrote, also after being killed half-way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.sync.sync_helpers import Fleet, write_manifest

from nestr.sync import ApplyOptions
from nestr.testing import git

SYNC = "sync:\n  sources: [{path: shared}]\n  rules:\n    - files: [settings.cfg, .editorconfig]\n"
BASE = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n"
RULES = {"sources": [{"path": "shared"}], "rules": [{"files": ["settings.cfg", ".editorconfig"]}]}
MANAGED = ["settings.cfg", ".editorconfig", ".nestr/sync.lock"]


def _killing_git(root: Path) -> Path:
    """A directory holding a `git` that kills its parent (nestr) when asked to `add`."""
    real = shutil.which("git")
    assert real is not None
    bindir = root / "killbin"
    bindir.mkdir()
    script = bindir / "git"
    script.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do\n'
        '  if [ "$a" = add ] && [ -n "$KILL_PARENT_ON_ADD" ]; then kill -9 $PPID; exit 1; fi\n'
        "done\n"
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)
    return bindir


def _nestr(ws: Path, *args: str, kill: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if kill is not None:
        env["PATH"] = f"{kill}{os.pathsep}{env['PATH']}"
        env["KILL_PARENT_ON_ADD"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "nestr", "sync", "apply", "-w", str(ws), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _setup(fleet: Callable[..., Fleet]) -> Fleet:
    f = fleet(["api"])
    f.source({"settings.cfg": BASE, ".editorconfig": "root = true\n"})
    write_manifest(f, SYNC)
    return f


def _porcelain(repo: Path, *paths: str) -> str:
    return git(repo, "status", "--porcelain", "--untracked-files=all", "--", *paths)


def _committed(repo: Path) -> list[str]:
    return git(repo, "show", "--name-only", "--format=", "HEAD").split()


def test_killed_before_the_commit_the_rerun_commits_everything(
    fleet: Callable[..., Fleet],
) -> None:
    """A kill between the writes and `git add`: the next apply --commit makes the commit."""
    f = _setup(fleet)
    repo, ws = f.repo("api"), f.workspace.root
    (repo / "notes.txt").write_text("mine, untracked\n")
    (repo / "README.md").write_text("# app, staged by the user\n")
    git(repo, "add", "README.md")
    head = git(repo, "rev-parse", "HEAD")
    killed = _nestr(ws, "--commit", kill=_killing_git(f.root))
    assert killed.returncode == -9, killed
    assert (repo / "settings.cfg").read_text() == BASE
    assert git(repo, "rev-parse", "HEAD") == head
    again = _nestr(ws, "--commit")
    assert again.returncode == 0, again
    assert "committed" in again.stdout
    assert _porcelain(repo, *MANAGED) == ""
    assert git(repo, "log", "-1", "--format=%s") == "Sync shared files (nestr)"
    assert sorted(_committed(repo)) == sorted(MANAGED)
    # the user's own changes are not part of it: still staged, still untracked
    assert git(repo, "diff", "--cached", "--name-only") == "README.md"
    assert _porcelain(repo, "notes.txt") == "?? notes.txt"
    assert not list((repo / ".git").glob("nestr-sync-journal*"))


def test_a_file_edited_after_the_kill_stays_out_of_the_commit(
    fleet: Callable[..., Fleet],
) -> None:
    """Only bytes nestr wrote are committed: an edit made after the kill stays uncommitted."""
    f = _setup(fleet)
    repo, ws = f.repo("api"), f.workspace.root
    assert _nestr(ws, "--commit", kill=_killing_git(f.root)).returncode == -9
    (repo / "settings.cfg").write_text(BASE + "mine = 1\n")
    again = _nestr(ws, "--commit")
    assert again.returncode == 0, again
    assert "not committed (changed again after nestr wrote it): settings.cfg" in again.stdout
    assert sorted(_committed(repo)) == [".editorconfig", ".nestr/sync.lock"]
    assert _porcelain(repo, "settings.cfg") == "?? settings.cfg"


def test_commit_holds_only_the_managed_paths(fleet: Callable[..., Fleet]) -> None:
    """Without an interruption too: staged and unstaged changes of other files stay the user's."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE, ".editorconfig": "root = true\n"})
    repo = f.repo("api")
    (repo / "app.py").write_text("x = 2\n")
    (repo / "README.md").write_text("# staged\n")
    git(repo, "add", "README.md")
    result = f.apply(RULES, ApplyOptions(commit=True))
    assert result.exit_code() == 0
    assert sorted(_committed(repo)) == sorted(MANAGED)
    assert git(repo, "status", "--porcelain") == "M  README.md\n M app.py".strip()
    assert _porcelain(repo, *MANAGED) == ""


def test_merge_over_an_uncommitted_edit_says_the_commit_includes_it(
    fleet: Callable[..., Fleet], nestr
) -> None:  # type: ignore[no-untyped-def]
    """A clean merge into a file with an uncommitted local edit commits the merged text, and
    the output says the edit went into the commit."""
    f = _setup(fleet)
    ws = str(f.workspace.root)
    assert nestr("sync", "apply", "-w", ws, "--commit").code == 0
    (f.repo("api") / "settings.cfg").write_text(BASE.replace("e = 5", "e = local"))
    f.source({"settings.cfg": BASE.replace("a = 1", "a = 10")})
    result = nestr("sync", "apply", "-w", ws, "--commit")
    assert result.code == 0, result
    assert "merge         settings.cfg  (local edits kept)" in result.out
    assert "includes the uncommitted local edits merged into: settings.cfg" in result.out
    shown = git(f.repo("api"), "show", "HEAD:settings.cfg")
    assert "a = 10" in shown
    assert "e = local" in shown


def test_nothing_new_for_git_in_a_dirty_tree_is_no_commit(fleet: Callable[..., Fleet]) -> None:
    """Managed paths already as in HEAD: no commit, no error, even with other files dirty."""
    f = fleet(["api"])
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["run.sh"], "mode": "0755"}]}
    f.source({"run.sh": "#!/bin/sh\n"})
    f.apply(rules, ApplyOptions(commit=True))
    head = git(f.repo("api"), "rev-parse", "HEAD")
    (f.repo("api") / "app.py").write_text("x = 3\n")
    (f.repo("api") / "run.sh").chmod(0o644)
    result = f.apply(rules, ApplyOptions(commit=True))
    assert result.repos[0].error is None
    assert result.repos[0].commit is None
    assert git(f.repo("api"), "rev-parse", "HEAD") == head
    assert git(f.repo("api"), "status", "--porcelain") == "M app.py"


def test_deleted_file_is_committed_as_a_removal(fleet: Callable[..., Fleet]) -> None:
    """delete: true removes the file in the commit too; the work tree and index stay clean."""
    f = fleet(["api"])
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["conf/*.cfg"], "delete": True}]}
    f.source({"conf/one.cfg": "one\n", "conf/two.cfg": "two\n"})
    f.apply(rules, ApplyOptions(commit=True))
    f.source({"conf/two.cfg": None})
    result = f.apply(rules, ApplyOptions(commit=True))
    assert result.repos[0].commit is not None
    assert sorted(_committed(f.repo("api"))) == [".nestr/sync.lock", "conf/two.cfg"]
    assert git(f.repo("api"), "ls-files", "conf") == "conf/one.cfg"
    assert git(f.repo("api"), "status", "--porcelain") == ""


def test_apply_then_apply_commit_commits_what_the_first_wrote(
    fleet: Callable[..., Fleet],
) -> None:
    """Files an apply without --commit wrote are nestr's: apply --commit later commits them,
    but neither a local edit of a managed file nor a managed block's file."""
    f = fleet(["api"])
    rules = {
        "sources": [{"path": "shared"}],
        "rules": [
            {"files": ["settings.cfg", ".editorconfig"]},
            {"files": ["ignore"], "dest": ".gitignore", "policy": "managed-block"},
        ],
    }
    f.source({"settings.cfg": BASE, ".editorconfig": "root = true\n", "ignore": "*.tmp\n"})
    repo = f.repo("api")
    assert f.apply(rules).exit_code() == 0
    (repo / "settings.cfg").write_text(BASE + "mine = 1\n")
    result = f.apply(rules, ApplyOptions(commit=True))
    assert result.repos[0].commit is not None
    assert sorted(_committed(repo)) == [".editorconfig", ".nestr/sync.lock"]
    assert _porcelain(repo) == "?? .gitignore\n?? settings.cfg"


def test_commit_with_new_writes_also_takes_what_an_earlier_apply_left(
    fleet: Callable[..., Fleet],
) -> None:
    """A run that writes and commits anyway takes along the files an earlier apply without
    --commit wrote (not asking git which differ first), and still leaves a local edit out."""
    f = fleet(["api"])
    rules = {
        "sources": [{"path": "shared"}],
        "rules": [{"files": ["settings.cfg", ".editorconfig", "extra.cfg"]}],
    }
    f.source({"settings.cfg": BASE, ".editorconfig": "root = true\n", "extra.cfg": "x = 1\n"})
    repo = f.repo("api")
    assert f.apply(rules).exit_code() == 0
    (repo / "settings.cfg").write_text(BASE + "mine = 1\n")
    f.source({"settings.cfg": BASE, ".editorconfig": "root = false\n", "extra.cfg": "x = 1\n"})
    result = f.apply(rules, ApplyOptions(commit=True))
    assert result.repos[0].commit is not None
    assert sorted(_committed(repo)) == [".editorconfig", ".nestr/sync.lock", "extra.cfg"]
    assert _porcelain(repo) == "?? settings.cfg"


def test_unreadable_journal_is_that_repos_error(fleet: Callable[..., Fleet]) -> None:
    """A journal that is not nestr's JSON is a clear error naming it, with what to do."""
    f = fleet(["api", "web"])
    f.source({"settings.cfg": BASE})
    (f.repo("api") / ".git" / "nestr-sync-journal.json").write_text("{not json")
    result = f.apply(
        {"sources": [{"path": "shared"}], "rules": [{"files": ["settings.cfg"]}]},
        ApplyOptions(commit=True),
    )
    assert result.exit_code() == 2
    error = result.repos[0].error
    assert error is not None
    assert "unreadable sync journal" in error.message
    assert error.hint is not None
    assert "remove it" in error.hint
    assert result.repos[1].commit is not None
