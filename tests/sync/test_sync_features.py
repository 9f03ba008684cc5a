"""Templates, managed blocks, globs, config repos, symlinks, events and status on real repos."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from tests.sync.sync_helpers import Fleet, actions

from nestr.errors import UsageError
from nestr.events import EventBus
from nestr.sync import ApplyOptions, Drift, apply_sync, sync_status
from nestr.testing import GitRepo, git


def test_templates_render_per_repo_variables(fleet: Callable[..., Fleet]) -> None:
    """A template sees repo fields, global vars, and per-repo vars overriding global ones."""
    f = fleet(["api", "web"], groups={"api": ["backend"]}, vars={"web": {"port": 8080}})
    f.source({"settings.cfg.j2": "name={{ repo.name }} org={{ org }} port={{ port }}\n"})
    rules = {
        "sources": [{"path": "shared"}],
        "vars": {"org": "materi", "port": 80},
        "rules": [{"files": ["settings.cfg.j2"], "template": True}],
    }
    assert f.apply(rules).exit_code() == 0
    assert (f.repo("api") / "settings.cfg").read_text() == "name=api org=materi port=80\n"
    assert (f.repo("web") / "settings.cfg").read_text() == "name=web org=materi port=8080\n"
    lock = json.loads((f.repo("web") / ".nestr/sync.lock").read_text())
    assert lock["vars"].startswith("sha256:")


def test_undefined_template_variable_is_a_repo_error(fleet: Callable[..., Fleet]) -> None:
    """A variable missing for one repo fails that repo with the template's line; others sync."""
    f = fleet(["api", "web"], vars={"api": {"port": 1}})
    f.source({"x.cfg.j2": "# header\nport={{ port }}\n"})
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["x.cfg.j2"], "template": True}]}
    result = f.apply(rules)
    by_repo = {r.plan.repo: r for r in result.repos}
    assert by_repo["api"].error is None
    error = by_repo["web"].error
    assert error is not None
    assert "'port' is undefined" in error.message
    assert "x.cfg.j2:2" in error.message
    assert result.exit_code() == 2
    assert (f.repo("api") / "x.cfg").read_text() == "# header\nport=1\n"


def test_sandbox_refuses_python_internals(fleet: Callable[..., Fleet]) -> None:
    """Templates cannot reach Python internals (sandboxed environment)."""
    f = fleet(["api"])
    f.source({"x.j2": "{{ ''.__class__.__mro__ }}\n"})
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["x.j2"], "template": True}]}
    result = f.apply(rules)
    assert result.repos[0].error is not None
    assert not (f.repo("api") / "x").exists()


def test_managed_block_owns_only_its_lines(fleet: Callable[..., Fleet]) -> None:
    """A managed block is appended, updated in place, and the rest of the file stays the repo's."""
    f = fleet(["api"])
    rules = {
        "sources": [{"path": "shared"}],
        "rules": [{"files": ["ignore"], "dest": ".gitignore", "policy": "managed-block"}],
    }
    (f.repo("api") / ".gitignore").write_text("local-stuff/\n")
    f.source({"ignore": "*.pyc\n"})
    assert actions(f.apply(rules)) == {("api", ".gitignore"): "create"}
    text = (f.repo("api") / ".gitignore").read_text()
    assert text == (
        "local-stuff/\n# >>> nestr managed: ignore >>>\n*.pyc\n# <<< nestr managed: ignore <<<\n"
    )
    (f.repo("api") / ".gitignore").write_text("top/\n" + text + "bottom/\n")
    f.source({"ignore": "*.pyc\n.venv/\n"})
    assert actions(f.apply(rules)) == {("api", ".gitignore"): "update"}
    assert (f.repo("api") / ".gitignore").read_text() == (
        "top/\nlocal-stuff/\n# >>> nestr managed: ignore >>>\n*.pyc\n.venv/\n"
        "# <<< nestr managed: ignore <<<\nbottom/\n"
    )


def test_managed_block_uses_the_language_comment(fleet: Callable[..., Fleet]) -> None:
    """Markers are comments of the destination's language (// for .js)."""
    f = fleet(["api"])
    rules = {
        "sources": [{"path": "shared"}],
        "rules": [{"files": ["b"], "dest": "x.js", "policy": "managed-block", "block": "lint"}],
    }
    f.source({"b": "use strict;\n"})
    f.apply(rules)
    assert (f.repo("api") / "x.js").read_text().startswith("// >>> nestr managed: lint >>>\n")


def test_edit_inside_managed_block_conflicts_with_source_change(
    fleet: Callable[..., Fleet],
) -> None:
    """Editing the block's own line while the source changes it is a conflict; the file stays."""
    f = fleet(["api"])
    rules = {
        "sources": [{"path": "shared"}],
        "rules": [{"files": ["ignore"], "dest": ".gitignore", "policy": "managed-block"}],
    }
    f.source({"ignore": "*.pyc\n"})
    f.apply(rules)
    path = f.repo("api") / ".gitignore"
    edited = path.read_text().replace("*.pyc", "*.pyo")
    path.write_text(edited)
    f.source({"ignore": "*.class\n"})
    assert actions(f.apply(rules)) == {("api", ".gitignore"): "conflict"}
    assert path.read_text() == edited


def test_glob_with_dest_directory(fleet: Callable[..., Fleet]) -> None:
    """A glob rule with dest puts each match under the dest directory, keeping subpaths."""
    f = fleet(["api"])
    f.source({"wf/ci.yml": "ci\n", "wf/sub/rel.yml": "rel\n", "wf/readme.txt": "no\n"})
    rules = {
        "sources": [{"path": "shared"}],
        "rules": [{"files": ["wf/**/*.yml"], "dest": ".github/workflows"}],
    }
    f.apply(rules)
    assert (f.repo("api") / ".github/workflows/ci.yml").read_text() == "ci\n"
    assert (f.repo("api") / ".github/workflows/sub/rel.yml").read_text() == "rel\n"
    assert not (f.repo("api") / ".github/workflows/readme.txt").exists()


def test_rule_selectors_pick_repos(fleet: Callable[..., Fleet]) -> None:
    """repos: {groups, exclude} and CLI-style selections limit which repos get a file."""
    f = fleet(["api", "web", "lib"], groups={"api": ["backend"], "lib": ["backend"]})
    f.source({"be.cfg": "be\n"})
    rules = {
        "sources": [{"path": "shared"}],
        "rules": [{"files": ["be.cfg"], "repos": {"groups": ["backend"], "exclude": ["lib"]}}],
    }
    assert actions(f.plan(rules)) == {("api", "be.cfg"): "create"}
    assert actions(f.plan(rules, names=["web"])) == {}


def test_config_repo_source_records_its_revision(fleet: Callable[..., Fleet]) -> None:
    """A repo of the manifest can be the source; its commit is recorded in each target's lock."""
    f = fleet(["api", "platform"])
    platform = GitRepo(f.repo("platform"))
    head = platform.commit({"ci.yml": "on: push\n"}, message="ci")
    rules = {"sources": [{"repo": "platform"}], "rules": [{"files": ["ci.yml"]}]}
    result = f.apply(rules)
    assert actions(result) == {("api", "ci.yml"): "create"}  # the source repo is no target
    lock = json.loads((f.repo("api") / ".nestr/sync.lock").read_text())
    assert lock["sources"]["platform"] == {"kind": "repo", "repo": "platform", "revision": head}


def test_symlink_leading_outside_is_refused(fleet: Callable[..., Fleet]) -> None:
    """A destination reached through a symlink out of the repo fails that repo only."""
    f = fleet(["api", "web"])
    outside = f.root / "outside"
    outside.mkdir()
    (f.repo("api") / "conf").symlink_to(outside)
    f.source({"conf/x.cfg": "x\n"})
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["conf/x.cfg"]}]}
    result = f.apply(rules)
    by_repo = {r.plan.repo: r for r in result.repos}
    error = by_repo["api"].error
    assert error is not None
    assert "leads outside the repo" in error.message
    assert error.exit_code == 2
    assert not (outside / "x.cfg").exists()
    assert (f.repo("web") / "conf/x.cfg").read_text() == "x\n"


def test_events_report_every_changed_file(fleet: Callable[..., Fleet]) -> None:
    """apply emits created/updated/merged/conflict/deleted events and a finished event per repo."""
    f = fleet(["api"])
    rules = {
        "sources": [{"path": "shared"}],
        "rules": [{"files": ["*.cfg"], "delete": True}],
    }
    base = "1\n2\n3\n4\n5\n"
    f.source({"a.cfg": base, "b.cfg": base, "c.cfg": base, "d.cfg": base})
    f.apply(rules)
    (f.repo("api") / "b.cfg").write_text(base.replace("5", "local"))
    (f.repo("api") / "c.cfg").write_text(base.replace("1", "local"))
    f.source({"a.cfg": base + "6\n", "b.cfg": "0\n" + base, "c.cfg": base.replace("1", "src")})
    f.source({"d.cfg": None, "e.cfg": "new\n"})
    bus = EventBus()
    seen: list[tuple[str, str | None]] = []
    bus.add_listener(lambda e: seen.append((e.type, e.subject)))
    asyncio.run(apply_sync(f.manifest(rules), f.workspace, bus=bus, jobs=1))
    assert sorted(seen) == [
        ("nestr.sync.file.conflict", "c.cfg"),
        ("nestr.sync.file.created", "e.cfg"),
        ("nestr.sync.file.deleted", "d.cfg"),
        ("nestr.sync.file.merged", "b.cfg"),
        ("nestr.sync.file.updated", "a.cfg"),
        ("nestr.sync.repo.finished", None),
    ]


def test_status_reports_drift(fleet: Callable[..., Fleet]) -> None:
    """sync status compares the work tree with the lock's blob ids: clean, modified, missing."""
    f = fleet(["api"])
    f.source({"a.cfg": "a\n", "b.cfg": "b\n", "c.cfg": "c\n"})
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["*.cfg"]}]}
    f.apply(rules)
    (f.repo("api") / "b.cfg").write_text("b local\n")
    (f.repo("api") / "c.cfg").unlink()
    (f.repo("api") / "a.cfg").write_bytes(b"a\r\n")  # line endings alone are no drift
    [repo] = sync_status(f.manifest(rules), f.workspace)
    assert {s.path: s.state for s in repo.files} == {
        "a.cfg": Drift.CLEAN,
        "b.cfg": Drift.MODIFIED,
        "c.cfg": Drift.MISSING,
    }
    # the ids are git's own
    assert git(f.repo("api"), "hash-object", "a.cfg") != ""


def test_commit_on_branch_and_push_to_bare_remote(fleet: Callable[..., Fleet]) -> None:
    """--commit --branch --push: one commit with the files and the lock, pushed to origin."""
    f = fleet(["api"])
    f.source({"a.cfg": "a\n"})
    (f.repo("api") / "unrelated.txt").write_text("not mine\n")
    git(f.repo("api"), "add", "unrelated.txt")
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["a.cfg"]}]}
    options = ApplyOptions(commit=True, branch="nestr/sync", message="shared files", push=True)
    result = f.apply(rules, options)
    [repo] = result.repos
    assert repo.error is None
    assert repo.branch == "nestr/sync"
    assert repo.pushed
    assert git(f.repo("api"), "symbolic-ref", "--short", "HEAD") == "nestr/sync"
    files = git(f.repo("api"), "show", "--name-only", "--format=%s", "HEAD").splitlines()
    assert files == ["shared files", "", ".nestr/sync.lock", "a.cfg"]
    assert git(f.origins["api"], "rev-parse", "refs/heads/nestr/sync") == repo.commit
    lock = json.loads((f.repo("api") / ".nestr/sync.lock").read_text())
    git(f.origins["api"], "cat-file", "-e", lock["files"]["a.cfg"]["blob"])  # the base travelled
    # what was staged before stays staged, uncommitted
    assert git(f.repo("api"), "status", "--porcelain") == "A  unrelated.txt"


def test_a_clone_carries_its_sync_state(fleet: Callable[..., Fleet]) -> None:
    """After a pushed sync with a merge, a fresh clone has the lock and the base to merge again."""
    f = fleet(["api"])
    base = "1\n2\n3\n4\n5\n"
    f.source({"a.cfg": base})
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["a.cfg"]}]}
    f.apply(rules, ApplyOptions(commit=True, push=True))
    (f.repo("api") / "a.cfg").write_text(base.replace("5", "local"))
    f.source({"a.cfg": base.replace("1", "one")})
    assert actions(f.apply(rules, ApplyOptions(commit=True, push=True))) == {
        ("api", "a.cfg"): "merge"
    }
    clone = f.root / "elsewhere"
    git(f.root, "clone", "-q", str(f.origins["api"]), str(clone))
    git(clone, "fetch", "-q", "origin", "refs/nestr/sync-bases:refs/nestr/sync-bases")
    lock = json.loads((clone / ".nestr/sync.lock").read_text())
    assert git(clone, "cat-file", "-p", lock["files"]["a.cfg"]["blob"]) == base.replace(
        "1", "one"
    ).rstrip("\n")


def test_existing_branch_is_refused(fleet: Callable[..., Fleet]) -> None:
    """--branch naming an existing other branch fails that repo instead of switching trees."""
    f = fleet(["api"])
    git(f.repo("api"), "branch", "taken")
    f.source({"a.cfg": "a\n"})
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["a.cfg"]}]}
    result = f.apply(rules, ApplyOptions(commit=True, branch="taken"))
    assert result.repos[0].error is not None
    assert "already exists" in result.repos[0].error.message
    assert not (f.repo("api") / "a.cfg").exists()


def test_managed_block_delete_removes_only_the_block(fleet: Callable[..., Fleet]) -> None:
    """After its rule goes, delete: true removes an unmodified block; an emptied file goes too."""
    f = fleet(["api", "web"])
    rules = {
        "sources": [{"path": "shared"}],
        "rules": [
            {"files": ["ign"], "dest": ".gitignore", "policy": "managed-block", "delete": True}
        ],
    }
    (f.repo("api") / ".gitignore").write_text("mine/\n")
    f.source({"ign": "*.pyc\n"})
    f.apply(rules)
    f.source({"ign": None})
    got = actions(f.apply({"sources": [{"path": "shared"}], "rules": []}))
    assert got == {("api", ".gitignore"): "delete", ("web", ".gitignore"): "delete"}
    assert (f.repo("api") / ".gitignore").read_text() == "mine/\n"
    assert not (f.repo("web") / ".gitignore").exists()
    [status] = sync_status(f.manifest(rules), f.workspace, names=["api"])
    assert status.files == ()


def test_template_syntax_error_names_the_line(fleet: Callable[..., Fleet]) -> None:
    """A template that does not parse is an error naming its file and line."""
    f = fleet(["api"])
    f.source({"x.j2": "ok\n{% if %}\n"})
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["x.j2"], "template": True}]}
    error = f.plan(rules).repos[0].error
    assert error is not None
    assert "x.j2:2: template syntax error" in error.message


def test_unreadable_lock_is_a_clear_repo_error(fleet: Callable[..., Fleet]) -> None:
    """A corrupted .nestr/sync.lock fails its repo with a hint to restore it."""
    f = fleet(["api"])
    f.source({"a.cfg": "a\n"})
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["a.cfg"]}]}
    f.apply(rules)
    (f.repo("api") / ".nestr/sync.lock").write_text("{not json")
    error = f.plan(rules).repos[0].error
    assert error is not None
    assert "unreadable sync lock" in error.message
    assert error.hint is not None
    assert "git checkout" in error.hint


def test_unknown_repo_selector_is_a_usage_error(fleet: Callable[..., Fleet]) -> None:
    """Selecting a repo the manifest does not have is refused."""
    f = fleet(["api"])
    rules = {"sources": [{"path": "shared"}], "rules": []}
    with pytest.raises(UsageError, match="unknown repo 'nope': no repo of that name in"):
        f.plan(rules, names=["nope"])
