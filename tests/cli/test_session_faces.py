"""The CLI as a face over the session: every operation reaches the durable event log, one
selection message for every way of naming repos, one duration grammar, no SQLite for actions
that emit nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory))


def assembled(project: Project, nestr: Any) -> Path:
    """A workspace of api and web, assembled by the CLI; its manifest's path."""
    manifest = project.manifest(project.spec("api"), project.spec("web"))
    result = nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws))
    assert result.code == 0, result.err
    return manifest.path


def logged(nestr: Any, prefix: str) -> list[dict[str, Any]]:
    """The events `nestr events --type PREFIX --json` prints, one JSON object a line."""
    result = nestr("events", "--type", prefix, "--json")
    assert result.code == 0, result.err
    return [json.loads(line) for line in result.out.splitlines()]


def test_assemble_lock_and_foreach_reach_the_durable_log(project: Project, nestr: Any) -> None:
    """After assemble, lock and foreach, `nestr events` (plain and --json) shows what each did,
    from a later process: none of them publishes on a bus that forgets."""
    manifest = assembled(project, nestr)
    types = {e["type"] for e in logged(nestr, "nestr.workspace")}
    assert {"nestr.workspace.repo.checked_out", "nestr.workspace.assembly.finished"} <= types
    checked = list(logged(nestr, "nestr.workspace.repo.checked_out"))
    assert sorted(e["repo"] for e in checked) == ["api", "web"]
    plain = nestr("events", "--type", "nestr.workspace")
    assert "nestr.workspace.assembly.finished" in plain.out

    assert nestr("lock", "-m", str(manifest)).code == 0
    locked = logged(nestr, "nestr.workspace.lock")
    assert sorted(e["repo"] for e in locked if e["type"].endswith(".resolved")) == ["api", "web"]
    assert locked[-1]["type"] == "nestr.workspace.lock.finished"

    ran = nestr("foreach", "-w", str(project.ws), "--", "echo", "hello")
    assert ran.code == 0, ran.err
    lines = [e for e in logged(nestr, "nestr.workspace.foreach") if e["type"].endswith("output")]
    assert sorted((e["repo"], e["data"]["line"]) for e in lines) == [
        ("api", "hello"),
        ("web", "hello"),
    ]


def test_removal_and_gc_reach_the_durable_log(project: Project, nestr: Any) -> None:
    """workspace rm, workspace gc and cache gc each record what they removed."""
    assembled(project, nestr)
    assert nestr("workspace", "rm", str(project.ws)).code == 0
    (removed,) = logged(nestr, "nestr.workspace.removed")
    assert removed["data"]["workspace"] == str(project.ws)
    assert sorted(removed["data"]["repos"]) == ["api", "web"]

    assert nestr("workspace", "gc").code == 0
    (gc,) = logged(nestr, "nestr.workspace.gc.finished")
    assert gc["data"] == {"removed": 0, "kept": 0}

    assert nestr("cache", "gc").code == 0  # no workspace borrows the two mirrors any more
    (cache,) = logged(nestr, "nestr.cache.gc.finished")
    assert cache["data"]["removed"] == 2
    assert cache["data"]["bytes"] > 0


def test_one_message_for_an_unknown_repo_everywhere(project: Project, nestr: Any) -> None:
    """assemble, status, foreach and a workflow's foreach name an unknown repo with the same
    message and suggestion (exit 2)."""
    manifest = assembled(project, nestr)
    with manifest.open("a", encoding="utf-8") as file:
        file.write(
            "workflows:\n  wf:\n    steps:\n      - {id: a, foreach: {names: [apj]}, run: 'true'}\n"
        )
    expected = f"unknown repo 'apj': no repo of that name in {manifest}"
    ws = str(project.ws)
    for argv in (
        ("assemble", "-m", str(manifest), "-w", ws, "--repo", "apj"),
        ("status", "-w", ws, "--repo", "apj"),
        ("foreach", "-w", ws, "--repo", "apj", "--", "true"),
        ("run", "wf", "-w", ws),
    ):
        result = nestr(*argv)
        assert result.code == 2, (argv, result)
        assert expected in result.err, (argv, result.err)
        assert "hint: did you mean 'api'?" in result.err, (argv, result.err)


def test_one_message_for_an_unknown_group(project: Project, nestr: Any) -> None:
    """A group no repo is in is refused the same way by assemble and status (exit 2)."""
    manifest = assembled(project, nestr)
    for argv in (
        ("assemble", "-m", str(manifest), "-w", str(project.ws), "-g", "backend"),
        ("status", "-w", str(project.ws), "-g", "backend"),
    ):
        result = nestr(*argv)
        assert result.code == 2, (argv, result)
        assert f"unknown group 'backend': no repo of {manifest} is in that group" in result.err


def test_ttl_takes_the_workflow_duration_grammar(project: Project, nestr: Any) -> None:
    """--ttl 1h30m gives an ephemeral workspace ninety minutes; a bad duration is exit 2."""
    manifest = project.manifest(project.spec("api"))
    before = datetime.now(UTC)
    result = nestr("assemble", "-m", str(manifest.path), "--ephemeral", "--ttl", "1h30m", "--json")
    assert result.code == 0, result.err
    expires = datetime.fromisoformat(json.loads(result.out)["expires"])
    assert before + timedelta(minutes=89) < expires < datetime.now(UTC) + timedelta(minutes=91)
    bad = nestr("assemble", "-m", str(manifest.path), "--ephemeral", "--ttl", "soon")
    assert bad.code == 2
    assert "--ttl" in bad.err


def test_status_opens_no_store(project: Project, nestr: Any) -> None:
    """An action that emits nothing never creates the SQLite store (the session opens it on
    first use)."""
    manifest = project.manifest(project.spec("api"))
    project.assemble(manifest)  # in-process, with a bus of its own: the store stays unborn
    from nestr.workspace.record import Workspace, write_record

    write_record(Workspace(project.ws, manifest.path, "w1", datetime.now(UTC)))
    result = nestr("status", "-w", str(project.ws), "--json")
    assert result.code == 0, result.err
    assert not (project.state_dir / "nestr.db").exists()
