"""`obsidian.note` steps, run by the Obsidian plugin process, and `nestr obsidian` writing real
runs into a temp vault."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest
from tests.bridges.conftest import BridgeSteps
from tests.bridges.vaults import front_matter, unresolved_links

from nestr.config.settings import ObsidianSettings, Settings
from nestr.testing import run_step_sync
from nestr.workflow.registry import StepRegistry


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    path = tmp_path / "vault"
    path.mkdir()
    return path


def test_note_step_writes_the_body_and_properties_into_its_block(
    bridges: StepRegistry, tmp_path: Path, vault: Path
) -> None:
    """`obsidian.note` with a body writes a note in the folder given, front matter from
    `properties`, and outputs its path and a wikilink; a rewrite keeps the person's text."""
    with_ = {
        "vault": str(vault),
        "title": "Release 1.2: notes",
        "folder": "releases",
        "body": "Shipped.\n",
        "properties": {"version": "1.2"},
    }
    ran = run_step_sync("obsidian.note", registry=bridges, with_=with_, cwd=tmp_path)
    assert ran.status == "succeeded", ran.error
    assert ran.outputs == {
        "path": "releases/Release 1.2- notes.md",
        "link": "[[releases/Release 1.2- notes]]",
    }
    note = vault / ran.outputs["path"]
    assert front_matter(note) == {"version": "1.2"}
    note.write_text(note.read_text() + "my own words\n")

    again = run_step_sync(
        "obsidian.note", registry=bridges, with_={**with_, "body": "Shipped twice.\n"}, cwd=tmp_path
    )

    assert again.status == "succeeded", again.error
    text = note.read_text()
    assert "Shipped twice.\n" in text
    assert "Shipped.\n" not in text
    assert text.endswith("my own words\n")


def test_note_step_fills_a_vault_template(
    bridges: StepRegistry, tmp_path: Path, vault: Path
) -> None:
    """`template` names a note of the vault whose `{{title}}` and `{{ fields.X }}` are
    filled; a placeholder naming nothing fails the step and names it."""
    (vault / "Templates").mkdir()
    (vault / "Templates" / "Release.md").write_text("# {{title}}\nversion {{ fields.version }}\n")
    with_ = {
        "vault": str(vault),
        "title": "v2",
        "template": "Templates/Release",
        "fields": {"version": "2.0"},
    }
    ran = run_step_sync("obsidian.note", registry=bridges, with_=with_, cwd=tmp_path)
    assert ran.status == "succeeded", ran.error
    assert "# v2\nversion 2.0\n" in (vault / "v2.md").read_text()

    (vault / "Templates" / "Release.md").write_text("{{ fields.missing }}\n")
    bad = run_step_sync("obsidian.note", registry=bridges, with_=with_, cwd=tmp_path)
    assert bad.status == "failed"
    assert "`{{ fields.missing }}` names nothing at `missing`" in (bad.error or "")


def test_note_step_takes_the_vault_from_the_settings(
    bridges: StepRegistry, bridge_steps: BridgeSteps, tmp_path: Path, vault: Path
) -> None:
    """Without `vault:` the plugin writes into `obsidian.vault` of the settings its host was
    given (passed at the plugin's start), and without either it fails saying how to name one."""
    configured = bridge_steps(Settings(obsidian=ObsidianSettings(vault=vault)))
    ran = run_step_sync(
        "obsidian.note", registry=configured, with_={"title": "t", "body": "b"}, cwd=tmp_path
    )
    assert ran.status == "succeeded", ran.error
    assert (vault / "t.md").is_file()
    missing = run_step_sync(
        "obsidian.note", registry=bridges, with_={"title": "t", "body": "b"}, cwd=tmp_path
    )
    assert missing.status == "failed"
    assert "set `vault`" in (missing.error or "")


MANIFEST = """\
version: 1
repos: []
workflows:
  release:
    steps:
      - id: build
        run: sh -c 'echo built'
      - id: test
        needs: [build]
        run: sh -c 'echo "assert 1 == 2"; exit 3'
"""


def test_obsidian_watch_once_writes_the_runs_that_finished(
    tmp_path: Path, vault: Path, nestr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a failed `nestr run`, `nestr obsidian watch --once` writes its note (status,
    DAG, the failed step's output, links that resolve) and the day's line; a second pass
    over the same events adds nothing."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "nestr.yaml").write_text(MANIFEST)
    (project / "nestr.config.yaml").write_text(f"obsidian:\n  vault: {vault}\n")
    monkeypatch.chdir(project)
    ran = nestr("run", "release", "--json")
    assert ran.code == 1, ran
    run_id = json.loads(ran.out)["run_id"]

    watched = nestr("obsidian", "watch", "--once", "--json")

    assert watched.code == 0, watched
    written = json.loads(watched.out)
    note = vault / written["run"]
    meta = front_matter(note)
    assert (meta["workflow"], meta["status"], meta["run_id"]) == ("release", "failed", run_id)
    assert meta["correlation_id"]
    text = note.read_text()
    assert "s0 --> s1" in text
    assert "assert 1 == 2" in text
    assert unresolved_links(vault) == []
    daily = (vault / written["daily"]).read_text()
    again = nestr("obsidian", "watch", "--once")
    assert again.code == 0, again
    assert (vault / written["daily"]).read_text() == daily
    assert daily.count("[[") == 1


def test_obsidian_note_without_a_vault_is_a_usage_error(
    tmp_path: Path, nestr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nestr obsidian note` with no vault configured exits 2 and says how to set one."""
    monkeypatch.chdir(tmp_path)
    result = nestr("obsidian", "note", "abc")
    assert result.code == 2
    assert "obsidian.vault" in result.err


def test_obsidian_watch_writes_a_run_as_it_finishes(
    tmp_path: Path, vault: Path, nestr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running `nestr obsidian watch` (the real executable) writes the note of a run that
    finishes after it started, and SIGTERM ends it with 143."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "nestr.yaml").write_text(MANIFEST)
    (project / "nestr.config.yaml").write_text(f"obsidian:\n  vault: {vault}\n")
    monkeypatch.chdir(project)
    assert nestr("run", "release").code == 1  # before the watcher: not written
    watcher = subprocess.Popen(
        [sys.executable, "-m", "nestr", "obsidian", "watch", "--json"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ran = None
        # the watcher follows from the log's head when it starts: run until it has seen one
        for _ in range(50):
            ran = nestr("run", "release", "--json")
            if watcher.stdout is not None and _readable(watcher.stdout, 2.0):
                break
        assert ran is not None
        assert watcher.stdout is not None
        written = json.loads(_json_object(watcher.stdout))
        assert front_matter(vault / written["run"])["workflow"] == "release"
    finally:
        watcher.terminate()
        _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 143, err
    assert len(list((vault / "nestr" / "runs").iterdir())) >= 1


def _readable(stream: IO[str], timeout: float) -> bool:
    return bool(select.select([stream], [], [], timeout)[0])


def _json_object(stream: IO[str]) -> str:
    """One pretty-printed JSON object from ``stream`` (its lines up to the closing brace)."""
    lines = []
    for line in stream:
        lines.append(line)
        if line.rstrip() == "}":
            break
    return "".join(lines)


def test_obsidian_watch_reports_a_run_it_cannot_write_and_goes_on(
    tmp_path: Path, vault: Path, nestr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose notes cannot be written (a file where the runs folder should be) is named
    on stderr, the other runs are still written, and `--once` exits 1."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "nestr.yaml").write_text(MANIFEST)
    monkeypatch.chdir(project)
    assert nestr("run", "release").code == 1
    (vault / "nestr").mkdir()
    (vault / "nestr" / "runs").write_text("in the way")
    refused = nestr("obsidian", "watch", "--once", "--vault", str(vault))
    assert refused.code == 1, refused
    assert "not written: obsidian: cannot write nestr/runs/release" in refused.err

    (vault / "nestr" / "runs").unlink()
    assert nestr("run", "release").code == 1
    both = nestr("obsidian", "watch", "--once", "--vault", str(vault), "--json")
    assert both.code == 0, both
    assert len(list((vault / "nestr" / "runs").iterdir())) == 2
