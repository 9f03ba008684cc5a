"""``nestr sync plan|apply|status`` against a workspace described by a real nestr.yaml."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.sync.sync_helpers import Fleet, write_manifest

from nestr.testing import git

SYNC = """sync:
  sources:
    - path: shared
  vars: {org: materi}
  rules:
    - files: [settings.cfg.j2]
      dest: settings.cfg
      template: true
      repos: all
    - files: [ci.yml]
      repos: {groups: [backend]}
"""


def _setup(fleet: Callable[..., Fleet]) -> Fleet:
    f = fleet(["api", "web"], groups={"api": ["backend"]})
    f.source({"settings.cfg.j2": "org={{ org }}\nport={{ port }}\nname={{ repo.name }}\n"})
    f.source({"ci.yml": "on: push\n"})
    write_manifest(f, SYNC)
    return f


def test_plan_json_lists_every_action(fleet: Callable[..., Fleet], nestr) -> None:  # type: ignore[no-untyped-def]
    """plan --json shows per repo and file the action; exit 0 when nothing conflicts."""
    f = _setup(fleet)
    result = nestr("sync", "plan", "-w", str(f.workspace.root), "--json")
    assert result.code == 0, result
    data = json.loads(result.out)
    got = {(r["repo"], x["path"]): x["action"] for r in data["repos"] for x in r["files"]}
    assert got == {
        ("api", "settings.cfg"): "create",
        ("api", "ci.yml"): "create",
        ("web", "settings.cfg"): "create",
    }
    assert data["summary"] == {"create": 3}
    assert data["conflicts"] == 0
    assert data["sources"] == {"shared": {"kind": "dir", "revision": None}}


def test_plan_diff_shows_the_change(fleet: Callable[..., Fleet], nestr) -> None:  # type: ignore[no-untyped-def]
    """plan --diff prints a unified diff of each file's change."""
    f = _setup(fleet)
    result = nestr("sync", "plan", "-w", str(f.workspace.root), "--diff", "--repo", "web")
    assert result.code == 0, result
    assert "+++ b/settings.cfg" in result.out
    assert "+port=3" in result.out
    assert "api" not in result.out


def test_apply_commit_then_conflict_exits_3(fleet: Callable[..., Fleet], nestr) -> None:  # type: ignore[no-untyped-def]
    """apply --commit commits per repo; then an overlapping local edit makes plan/apply exit 3."""
    f = _setup(fleet)
    ws = str(f.workspace.root)
    result = nestr("sync", "apply", "-w", ws, "--commit", "--message", "sync it")
    assert result.code == 0, result
    assert git(f.repo("api"), "log", "-1", "--format=%s") == "sync it"
    (f.repo("web") / "settings.cfg").write_text("org=mine\nport=3\nname=web\n")
    f.source({"settings.cfg.j2": "org={{ org }}-x\nport={{ port }}\nname={{ repo.name }}\n"})
    plan = nestr("sync", "plan", "-w", ws)
    assert plan.code == 3, plan
    assert "conflict" in plan.out
    applied = nestr("sync", "apply", "-w", ws, "--json")
    assert applied.code == 3
    data = json.loads(applied.out)
    assert data["conflicts"] == 1
    assert (f.repo("web") / "settings.cfg").read_text() == "org=mine\nport=3\nname=web\n"
    assert (f.repo("api") / "settings.cfg").read_text() == "org=materi-x\nport=3\nname=api\n"


def test_status_json_reports_drift(fleet: Callable[..., Fleet], nestr) -> None:  # type: ignore[no-untyped-def]
    """status --json names each managed file's state."""
    f = _setup(fleet)
    ws = str(f.workspace.root)
    assert nestr("sync", "apply", "-w", ws).code == 0
    (f.repo("api") / "ci.yml").write_text("on: pull_request\n")
    result = nestr("sync", "status", "-w", ws, "--json")
    assert result.code == 0, result
    data = json.loads(result.out)
    states = {(r["repo"], x["path"]): x["state"] for r in data["repos"] for x in r["files"]}
    assert states == {
        ("api", "ci.yml"): "modified",
        ("api", "settings.cfg"): "clean",
        ("web", "settings.cfg"): "clean",
    }
    text = nestr("sync", "status", "-w", ws)
    assert "api: 2 managed (1 clean, 1 local edits)" in text.out
    assert "  local edits      ci.yml" in text.out


def test_bad_rule_exits_2_with_position(fleet: Callable[..., Fleet], nestr) -> None:  # type: ignore[no-untyped-def]
    """A destination outside the repo is refused with file:line:col and exit code 2."""
    f = fleet(["api"])
    bad = "sync:\n  sources: [{path: shared}]\n  rules:\n    - {files: [a], dest: ../../etc/x}\n"
    path = write_manifest(f, bad)
    result = nestr("sync", "plan", "-w", str(f.workspace.root))
    assert result.code == 2
    line = path.read_text().splitlines().index("    - {files: [a], dest: ../../etc/x}") + 1
    assert f"nestr.yaml:{line}:26: sync.rules[0].dest:" in result.err
    assert "leads outside the repo" in result.err
    assert "Traceback" not in result.err


def test_push_without_commit_is_a_usage_error(fleet: Callable[..., Fleet], nestr) -> None:  # type: ignore[no-untyped-def]
    """--push needs --commit."""
    f = _setup(fleet)
    result = nestr("sync", "apply", "-w", str(f.workspace.root), "--push")
    assert result.code == 2
    assert "--push needs --commit" in result.err


def test_apply_events_reach_the_event_log(fleet: Callable[..., Fleet], nestr) -> None:  # type: ignore[no-untyped-def]
    """apply's file and repo events are stored in the durable log that `nestr events` reads."""
    f = _setup(fleet)
    assert nestr("sync", "apply", "-w", str(f.workspace.root)).code == 0
    result = nestr("events", "--json")
    assert result.code == 0, result
    types = [json.loads(line)["type"] for line in result.out.splitlines() if line.strip()]
    assert types.count("nestr.sync.file.created") == 3
    assert types.count("nestr.sync.repo.finished") == 2


def test_apply_markers_on_a_branch_for_review(fleet: Callable[..., Fleet], nestr) -> None:  # type: ignore[no-untyped-def]
    """--conflicts=markers --branch --commit puts the conflict, with markers, on a review branch."""
    f = _setup(fleet)
    ws = str(f.workspace.root)
    assert nestr("sync", "apply", "-w", ws, "--commit").code == 0
    (f.repo("api") / "ci.yml").write_text("on: pull_request\n")
    git(f.repo("api"), "commit", "-qam", "local ci")
    f.source({"ci.yml": "on: [push, tag]\n"})
    result = nestr(
        "sync", "apply", "-w", ws, "-g", "backend", "--conflicts", "markers",
        "--commit", "--branch", "sync/review",
    )  # fmt: skip
    assert result.code == 3, result
    assert "committed" in result.out
    assert git(f.repo("api"), "symbolic-ref", "--short", "HEAD") == "sync/review"
    shown = git(f.repo("api"), "show", "HEAD:ci.yml")
    assert "<<<<<<< repo\non: pull_request\n=======\non: [push, tag]\n>>>>>>> source" in shown
    assert git(f.repo("web"), "symbolic-ref", "--short", "HEAD") == "main"
