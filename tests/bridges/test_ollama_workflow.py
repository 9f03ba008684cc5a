"""An `ollama.generate` step inside `nestr run`: its prompt is fed by the run so far."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.bridges.ollama_server import ollama_server

MANIFEST = """\
version: 1
repos: []
workflows:
  explain:
    steps:
      - id: build
        uses: noop
        with: {{outputs: {{version: "1.2.3"}}}}
      - id: test
        run: sh -c 'echo collecting; echo "assert 1 == 2" >&2; exit 1'
        continue_on_error: true
      - id: why
        uses: ollama.generate
        needs: [build, test]
        with:
          model: tiny
          host: {host}
          log_lines: 5
          prompt: |-
            Version ${{{{ steps.build.outputs.version }}}};
            the test step {{{{ steps.test.status }}}}:
            {{{{ steps.test.log }}}}
"""


def test_prompt_is_fed_by_an_earlier_output_and_a_failed_steps_log_tail(
    tmp_path: Path, nestr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a real run, the prompt's `${{ }}` takes an earlier step's output and its
    `{{ steps.test.log }}` the failed step's output read back from the run's store; the
    answer is the step's `text` output and its progress events reach the run's event log."""
    with ollama_server() as (host, script):
        (tmp_path / "nestr.yaml").write_text(MANIFEST.format(host=host))
        monkeypatch.chdir(tmp_path)
        ran = nestr("run", "explain", "--json")
    assert ran.code == 0, ran
    [(_, body)] = script.requests
    assert body["prompt"] == ("Version 1.2.3;\nthe test step failed:\ncollecting\nassert 1 == 2")
    run = json.loads(ran.out)
    shown = nestr("runs", "show", run["run_id"], "--json")
    steps = {s["key"]: s for s in json.loads(shown.out)["steps"]}
    assert steps["why"]["outputs"]["text"] == "Hello, world\nBye."
    listed = nestr(
        "events", "--run", run["run_id"], "--type", "nestr.workflow.step.progress", "--json"
    )
    events = [json.loads(line) for line in listed.out.splitlines()]
    assert [(e["step"], e["data"]["message"]) for e in events] == [
        ("why", "Hello, world"),
        ("why", "Bye."),
    ]
