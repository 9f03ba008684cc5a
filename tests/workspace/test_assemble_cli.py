"""The assemble, lock, workspace and cache commands, run in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

from nestr.testing import git


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory))


def as_json(result: Any) -> Any:
    return json.loads(result.out)


def test_assemble_json_shape_and_progress_lines(project: Project, nestr: Any) -> None:
    """--json prints the documented result; progress goes to stderr as plain lines."""
    manifest = project.manifest(project.spec("api"), project.spec("web", "v1"))
    result = nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws), "--json")
    assert result.code == 0, result.err
    data = as_json(result)
    assert set(data) == {
        "workspace", "workspace_id", "manifest", "locked", "expires", "discarded", "ok",
        "exit_code", "counts", "seconds", "repos",
    }  # fmt: skip
    assert data["counts"] == {"cloned": 2}
    assert set(data["repos"][0]) == {
        "name", "path", "status", "ok", "revision", "commit", "previous", "message", "hint",
        "stash", "fetched", "seconds",
    }  # fmt: skip
    assert "api: started (main)" in result.err
    assert "web: cloned" in result.err


def test_default_workspace_is_the_manifest_directory(project: Project, nestr: Any) -> None:
    """Without -w the repos land beside the manifest; inside a workspace, in that workspace."""
    manifest = project.manifest(project.spec("api"))
    result = nestr("-C", str(manifest.root), "assemble")
    assert result.code == 0, result.err
    assert (manifest.root / "api" / ".git").is_dir()
    again = nestr("-C", str(manifest.root / "api"), "assemble", "-m", str(manifest.path))
    assert again.code == 0
    assert "unchanged" in again.out
    assert not (manifest.root / "api" / "api").exists()


def test_failure_summary_and_exit_code(project: Project, nestr: Any) -> None:
    """A failed repo is listed with its cause and the command exits 1; the others are there."""
    manifest = project.manifest(project.spec("api", "missing-branch"), project.spec("web"))
    result = nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws))
    assert result.code == 1
    assert "api: failed: revision 'missing-branch' not found" in result.out
    assert (project.ws / "web" / ".git").is_dir()


def test_stale_lock_exits_2_with_hint(project: Project, nestr: Any) -> None:
    """assemble --locked with a lock from an older manifest exits 2 and suggests nestr lock."""
    manifest = project.manifest(project.spec("api"))
    assert nestr("lock", "-m", str(manifest.path)).code == 0
    project.manifest(project.spec("api", "dev"))
    result = nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws), "--locked")
    assert result.code == 2
    assert "stale" in result.err
    assert "nestr lock" in result.err
    assert not (project.ws / "api").exists()


def test_lock_refuses_a_revision_that_reads_as_an_option(project: Project, nestr: Any) -> None:
    """`nestr lock` exits 2 at the revision's line and writes no lock (git never sees it)."""
    manifest = project.manifest(project.spec("api", "--since=yesterday"))
    result = nestr("lock", "-m", str(manifest.path), "--json")
    assert result.code == 2
    assert "nestr.yaml:5:5: repos[0].revision: revision '--since=yesterday' starts" in result.err
    assert "Traceback" not in result.err
    assert not (manifest.root / "nestr.lock").exists()


def test_lock_json_and_locked_assembly(project: Project, nestr: Any) -> None:
    """nestr lock writes nestr.lock and --json shows each pin; --locked uses them."""
    manifest = project.manifest(project.spec("api", "dev"))
    result = nestr("lock", "-m", str(manifest.path), "--json")
    assert result.code == 0, result.err
    data = as_json(result)
    commit = git(project.upstreams["api"].path, "rev-parse", "dev")
    assert data["repos"]["api"] == {
        "url": project.upstreams["api"].url,
        "revision": "dev",
        "commit": commit,
    }
    assert data["written"] is True
    assert (manifest.root / "nestr.lock").is_file()
    locked = nestr(
        "assemble", "-m", str(manifest.path), "-w", str(project.ws), "--locked", "--json"
    )
    assert locked.code == 0
    assert as_json(locked)["repos"][0]["commit"] == commit


def test_conflicting_flags_and_unknown_repo_are_usage_errors(project: Project, nestr: Any) -> None:
    """--stash with --force, --ttl without --ephemeral, and an unknown --repo exit 2."""
    manifest = project.manifest(project.spec("api"))
    base = ("assemble", "-m", str(manifest.path), "-w", str(project.ws))
    assert nestr(*base, "--stash", "--force").code == 2
    assert nestr(*base, "--ttl", "1h").code == 2
    unknown = nestr(*base, "--repo", "apj")
    assert unknown.code == 2
    assert "did you mean 'api'" in unknown.err


def test_ephemeral_workspace_expires_and_gc_removes_it(project: Project, nestr: Any) -> None:
    """An ephemeral workspace lives under the state dir, expires after its TTL; gc removes it."""
    manifest = project.manifest(project.spec("api"))
    keep = nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws), "--json")
    made = nestr("assemble", "-m", str(manifest.path), "--ephemeral", "--ttl", "0.001s", "--json")
    assert made.code == 0, made.err
    data = as_json(made)
    root = Path(data["workspace"])
    assert root == project.state_dir / "workspaces" / data["workspace_id"]
    assert data["expires"] is not None
    assert (root / "api" / ".git").is_dir()
    listed = {w["id"]: w for w in as_json(nestr("workspace", "list", "--json"))["workspaces"]}
    assert listed[data["workspace_id"]]["expired"] is True
    assert listed[data["workspace_id"]]["ephemeral"] is True
    assert listed[as_json(keep)["workspace_id"]]["expired"] is False
    gc = nestr("workspace", "gc", "--json")
    removed = {w["id"]: w["removed"] for w in as_json(gc)["workspaces"]}
    assert removed == {data["workspace_id"]: True, as_json(keep)["workspace_id"]: False}
    assert not root.exists()
    assert (project.ws / "api" / ".git").is_dir()


def test_workspace_gc_keeps_expired_workspace_with_local_work(project: Project, nestr: Any) -> None:
    """An expired workspace holding uncommitted work is kept and the reason reported."""
    manifest = project.manifest(project.spec("api"))
    made = as_json(
        nestr("assemble", "-m", str(manifest.path), "--ephemeral", "--ttl", "0.001s", "--json")
    )
    root = Path(made["workspace"])
    (root / "api" / "a.txt").write_text("work in progress\n")
    result = nestr("workspace", "gc")
    assert result.code == 0
    assert "kept" in result.out
    assert "api: uncommitted changes" in result.out
    assert root.exists()


def test_workspace_rm_refuses_local_work_unless_forced(project: Project, nestr: Any) -> None:
    """rm keeps a workspace with unpushed commits (exit 1); --force removes it."""
    manifest = project.manifest(project.spec("api"), project.spec("web"))
    wid = as_json(nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws), "--json"))[
        "workspace_id"
    ]
    project.repo("web").commit({"new.txt": "local\n"})
    refused = nestr("workspace", "rm", wid)
    assert refused.code == 1
    assert "web: commits that are not pushed" in refused.err
    assert project.ws.exists()
    forced = nestr("workspace", "rm", str(project.ws), "--force", "--json")
    assert forced.code == 0
    assert as_json(forced)["removed"] is True
    assert not project.ws.exists()
    assert as_json(nestr("workspace", "list", "--json"))["workspaces"] == []


def test_workspace_rm_of_a_clean_workspace(project: Project, nestr: Any) -> None:
    """A workspace without local work is removed by id; an unknown id is a usage error."""
    manifest = project.manifest(project.spec("api"))
    wid = as_json(nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws), "--json"))[
        "workspace_id"
    ]
    assert nestr("workspace", "rm", "nope").code == 2
    assert nestr("workspace", "rm", wid).code == 0
    assert not project.ws.exists()


def test_cache_gc_keeps_borrowed_mirrors(project: Project, nestr: Any) -> None:
    """cache list counts borrowers; gc removes only mirrors no registered workspace borrows."""
    api_only = project.manifest(project.spec("api"), directory="one")
    both = project.manifest(project.spec("api"), project.spec("web"), directory="two")
    nestr("assemble", "-m", str(api_only.path), "-w", str(project.tmp / "ws1"))
    second = as_json(
        nestr("assemble", "-m", str(both.path), "-w", str(project.tmp / "ws2"), "--json")
    )
    listed = {
        Path(m["mirror"]).name.split("-")[0]: m
        for m in as_json(nestr("cache", "list", "--json"))["mirrors"]
    }
    assert listed["api"]["borrowed_by"] == 2
    assert listed["web"]["borrowed_by"] == 1
    assert listed["web"]["url"] == project.upstreams["web"].url
    assert listed["web"]["size"] > 0
    assert listed["web"]["last_fetch"] is not None
    assert nestr("workspace", "rm", second["workspace_id"]).code == 0
    dry = as_json(nestr("cache", "gc", "--dry-run", "--json"))
    assert {Path(m["mirror"]).name.split("-")[0]: m["removed"] for m in dry["mirrors"]} == {
        "api": False,
        "web": True,
    }
    assert len(list(project.cache_dir.glob("mirrors/*.git"))) == 2
    gc = nestr("cache", "gc")
    assert gc.code == 0
    assert [p.name.split("-")[0] for p in project.cache_dir.glob("mirrors/*.git")] == ["api"]
    assert "borrowed by 1 workspace" in gc.out
    assert nestr("assemble", "-m", str(api_only.path), "-w", str(project.tmp / "ws1")).code == 0


def test_live_display_tracks_repos_from_events() -> None:
    """The terminal display counts finished repos and shows the ones in progress."""
    from nestr.cli.commands.assemble import _Live
    from nestr.events import Event

    live = _Live(2)
    live(Event("nestr.workspace.repo.started", repo="api"))
    live(Event("nestr.workspace.repo.started", repo="web"))
    live(Event("nestr.workspace.repo.fetched", repo="web"))
    assert live.active == {"api": "fetching", "web": "checking out"}
    live(Event("nestr.workspace.repo.checked_out", {"status": "cloned"}, repo="api"))
    assert live.active == {"web": "checking out"}
    assert live.progress.tasks[0].completed == 1


def test_ttl_parsing() -> None:
    """--ttl takes the workflow duration grammar (1h30m too) or plain seconds; nonsense, zero
    and more than a year are rejected."""
    import click

    from nestr.cli.commands.assemble import parse_ttl

    assert parse_ttl("8h").total_seconds() == 8 * 3600
    assert parse_ttl("90").total_seconds() == 90
    assert parse_ttl("2d").total_seconds() == 2 * 86400
    assert parse_ttl("1h30m").total_seconds() == 5400
    assert parse_ttl("1w").total_seconds() == 7 * 86400
    for bad in ("0", "soon", "-1h", "0s", "400d", "1" * 40):
        with pytest.raises(click.BadParameter):
            parse_ttl(bad)


def test_plain_listings_and_lock_failure(project: Project, nestr: Any) -> None:
    """Human output of list commands names what is there; a failed lock writes nothing."""
    assert "no workspaces registered" in nestr("workspace", "list").out
    assert "no mirrors" in nestr("cache", "list").out
    manifest = project.manifest(project.spec("api"))
    nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws))
    listed = nestr("workspace", "list").out
    assert "persistent" in listed
    assert str(project.ws) in listed
    cached = nestr("cache", "list").out
    assert project.upstreams["api"].url in cached
    assert "borrowed by 1" in cached
    bad = project.manifest(project.spec("api", "nope"), directory="bad")
    failed = nestr("lock", "-m", str(bad.path))
    assert failed.code == 1
    assert "api: revision 'nope' not found" in failed.err
    assert "nestr.lock not written" in failed.err
    assert not (bad.root / "nestr.lock").exists()
    locked = nestr("lock", "-m", str(manifest.path))
    assert locked.code == 0
    assert "wrote" in locked.out


def test_stderr_off_a_terminal_holds_one_format(project: Project, nestr: Any) -> None:
    """Off a terminal, debug logs and progress are both plain lines by default; with
    --log-format json every stderr line is JSON, progress included."""
    manifest = project.manifest(project.spec("api"))
    ws = str(project.ws)
    plain = nestr("--log-level", "debug", "assemble", "-m", str(manifest.path), "-w", ws)
    assert plain.code == 0, plain.err
    lines = plain.err.splitlines()
    assert "api: started (main)" in lines
    assert any("git" in line and "argv=" in line for line in lines)  # a debug log line
    assert not [line for line in lines if line.startswith("{")]
    again = nestr("--log-format", "json", "assemble", "-m", str(manifest.path), "-w", ws)
    assert again.code == 0, again.err
    records = [json.loads(line) for line in again.err.splitlines() if line]
    progress = [r for r in records if r["event"] == "progress"]
    assert {r["type"] for r in progress} >= {
        "nestr.workspace.repo.started",
        "nestr.workspace.repo.skipped",
        "nestr.workspace.assembly.finished",
    }
    skipped = next(r for r in progress if r["type"] == "nestr.workspace.repo.skipped")
    assert (skipped["repo"], skipped["data"]["status"]) == ("api", "unchanged")
