"""The bridge examples under examples/bridges run as their comments say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.bridges.ollama_server import Script, ollama_server
from tests.bridges.vaults import front_matter

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "bridges"


@pytest.mark.parametrize(
    ("workflow", "fed"),
    [("explain-failure", "assert 500 == 200"), ("commit-message", "M .editorconfig")],
)
def test_ollama_examples_run_against_a_server(
    workflow: str, fed: str, tmp_path: Path, nestr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each Ollama example runs to success against the server OLLAMA_HOST names, sending a
    prompt that holds the earlier step's output."""
    monkeypatch.chdir(tmp_path)
    with ollama_server(Script(models=("llama3.2",))) as (host, script):
        monkeypatch.setenv("OLLAMA_HOST", host)
        ran = nestr("run", workflow, "-m", str(EXAMPLES / "ollama.yaml"), "--json")
    assert ran.code == 0, ran
    [(_, body)] = script.requests
    sent = body.get("prompt") or body["messages"][-1]["content"]
    assert fed in sent


def test_obsidian_example_writes_the_release_note(
    tmp_path: Path, nestr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The release-notes example writes `releases/Release 2.0.md` into the configured vault
    with the version as a property and the build's output in the body."""
    vault = tmp_path / "vault"
    vault.mkdir()
    monkeypatch.chdir(tmp_path)
    ran = nestr(
        "--set",
        f"obsidian.vault={vault}",
        "run",
        "release-notes",
        "-m",
        str(EXAMPLES / "obsidian.yaml"),
        "--var",
        "version=2.0",
        "--json",
    )
    assert ran.code == 0, ran
    assert json.loads(ran.out)["status"] == "succeeded"
    note = vault / "releases" / "Release 2.0.md"
    assert front_matter(note) == {"version": "2.0", "tags": ["release"]}
    assert "Artifact: `app-2.0.tar.gz`" in note.read_text()
