"""Correlation ids: one per CLI invocation, on every event it causes and in git's environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nestr.git.runner import run_git_sync
from nestr.observability.context import correlation
from nestr.store.eventlog import open_event_log

WORKFLOW = """\
version: 1
repos: []
workflows:
  hello:
    steps:
      - {id: first, uses: noop}
      - {id: say, run: "echo hello", needs: [first]}
"""


def run_ids_and_correlations(nestr: Any, manifest: Path, state: Path) -> tuple[str, set[Any]]:
    """Run the workflow through the CLI; the run's id and the correlation ids its events carry."""
    result = nestr("run", "hello", "-m", str(manifest), "--json")
    assert result.code == 0, result.err
    run_id = json.loads(result.out)["run_id"]
    log = open_event_log(state)
    try:
        events = log.read(run_id=run_id)
    finally:
        log.close()
    types = {e.type for e in events}
    assert {"nestr.workflow.run.started", "nestr.workflow.step.log"} <= types
    assert "nestr.workflow.run.finished" in types
    return run_id, {e.correlation_id for e in events}


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    path = tmp_path / "nestr.yaml"
    path.write_text(WORKFLOW, encoding="utf-8")
    state = tmp_path / "state"
    monkeypatch.setenv("NESTR_STATE_DIR", str(state))
    return path, state


def test_every_event_of_a_cli_run_shares_one_correlation_id(
    nestr: Any, manifest: tuple[Path, Path]
) -> None:
    """All stored events of one `nestr run` carry the same non-null id; the next run gets
    another one."""
    _, first = run_ids_and_correlations(nestr, *manifest)
    _, second = run_ids_and_correlations(nestr, *manifest)
    assert len(first) == 1
    assert len(second) == 1
    assert None not in first | second
    assert first != second


def test_an_inherited_correlation_id_is_used(
    nestr: Any, manifest: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A nestr started with NESTR_CORRELATION_ID=abc stamps abc on every event it causes."""
    monkeypatch.setenv("NESTR_CORRELATION_ID", "abc")
    _, ids = run_ids_and_correlations(nestr, *manifest)
    assert ids == {"abc"}


def test_git_and_its_children_get_the_correlation_id(tmp_path: Path) -> None:
    """A process git starts (here a shell alias) sees the action's NESTR_CORRELATION_ID."""
    alias = 'alias.cid=!printf %s "$NESTR_CORRELATION_ID"'
    with correlation("cid-123"):
        result = run_git_sync(["-c", alias, "cid"], cwd=tmp_path)
    assert result.stdout == "cid-123"
