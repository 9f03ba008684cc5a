"""The bridges as shipped: `nestr-plugin-obsidian` and `nestr-plugin-ollama` are plugins that
pass nestr's conformance driver, and a plugin gets only its own config section."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.bridges.ollama_server import Script, ollama_server

from nestr.config.settings import Secret
from nestr.plugin.handshake import SETTINGS_ENV
from nestr.plugins.sections import section_env


@pytest.fixture
def scripts_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console scripts nestr installs, on PATH as they are for a user."""
    bin_dir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


def checked(nestr: Any, *argv: str) -> dict[str, Any]:
    done = nestr("plugin", "check", *argv, "--json")
    report: dict[str, Any] = json.loads(done.out)
    assert done.code == 0, [f for f in report["findings"] if not f["ok"]]
    return report


@pytest.mark.usefixtures("scripts_on_path")
def test_obsidian_plugin_conforms_and_writes_the_note(nestr: Any, tmp_path: Path) -> None:
    """`nestr plugin check nestr-plugin-obsidian` passes every check, its Describe offers
    `obsidian.note` with the catalogue's schema, and its Execute wrote the note."""
    vault = tmp_path / "vault"
    vault.mkdir()
    with_ = json.dumps({"vault": str(vault), "title": "Checked", "body": "by the driver"})
    report = checked(nestr, "nestr-plugin-obsidian", "--with", with_)
    found = {f["name"]: f for f in report["findings"]}
    assert found["describe"]["detail"].endswith(": obsidian.note")
    assert found["step type obsidian.note"]["ok"]
    assert "by the driver" in (vault / "Checked.md").read_text()


@pytest.mark.usefixtures("scripts_on_path")
def test_ollama_plugin_conforms_against_a_server_and_cancels_a_stream(
    nestr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nestr plugin check nestr-plugin-ollama` passes against a local Ollama server, and so
    does its Cancel mid-execute of a stream the server holds back (a cancelled result)."""
    with ollama_server(Script(hold_after=2)) as (host, script):
        monkeypatch.setenv("OLLAMA_HOST", host)
        script.release.set()  # the first Execute streams its answer whole
        with_ = json.dumps({"model": "tiny", "prompt": "hi"})
        report = checked(nestr, "nestr-plugin-ollama", "--with", with_)
        assert {"validate good", "execute"} <= {f["name"] for f in report["findings"]}
        assert script.requests[-1][0] == "/api/generate"

        script.release.clear()  # from now on a stream waits after two tokens
        absent = json.dumps({"model": "absent", "prompt": "hi"})  # ends at once, failed
        slow = checked(
            nestr, "nestr-plugin-ollama", "--with", absent,
            "--slow", "ollama.generate", "--slow-with", with_,
        )  # fmt: skip
        script.release.set()
    cancel = {f["name"]: f for f in slow["findings"]}["cancel mid-execute"]
    assert cancel["ok"], cancel
    assert "skipped" not in cancel["detail"], cancel


@dataclass(frozen=True)
class _Section:
    vault: Path = Path("/notes")
    token: Secret = field(default_factory=lambda: Secret("s3cret"))
    nested: dict[str, Any] = field(default_factory=lambda: {"key": Secret("x"), "n": 1})


@dataclass(frozen=True)
class _Settings:
    demo: _Section = field(default_factory=_Section)
    jobs: int = 8


def test_a_plugin_gets_its_own_section_without_secrets() -> None:
    """The environment a plugin starts with holds its config section as JSON with every secret
    value left out, and nothing for a plugin without a section (or a scalar setting)."""
    env = section_env(_Settings(), "demo")
    assert json.loads(env[SETTINGS_ENV]) == {"vault": "/notes", "nested": {"n": 1}}
    assert "s3cret" not in env[SETTINGS_ENV]
    assert section_env(_Settings(), "other") == {}
    assert section_env(_Settings(), "jobs") == {}
    assert section_env(None, "demo") == {}


def test_a_bridge_steps_with_is_validated_by_its_plugin_at_its_position(
    nestr: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nestr workflow validate` asks the Obsidian plugin to Validate `obsidian.note`'s
    `with:` against the catalogue's schema and reports each problem at its YAML position."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nestr.yaml").write_text(
        "version: 1\nrepos: []\nworkflows:\n  notes:\n    steps:\n"
        "      - id: note\n        uses: obsidian.note\n"
        "        with: {body: hi, fields: [1]}\n",
        encoding="utf-8",
    )
    done = nestr("workflow", "validate")
    assert done.code == 2, done
    assert "nestr.yaml:8:15: workflows.notes.steps[0].with: obsidian.note: `title` is required" in (
        done.err + done.out
    )
    assert "with.fields: obsidian.note: expected object, got array" in done.err + done.out
