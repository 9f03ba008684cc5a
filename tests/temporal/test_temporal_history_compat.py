"""Histories recorded by an earlier version of the workflow code replay through today's.

``histories/`` holds the histories of runs made before step results carried log places and
outputs by reference (a run that succeeded with outputs, a skip and a retry; one that failed
fast; one cancelled; one compensated): a change of the workflow code that a run in flight
could not continue with fails here, without a cluster."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from nestr.temporal.interpreter import NestrRun
from nestr.temporal.worker import sandbox_runner

HISTORIES = Path(__file__).parent / "histories"


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
def test_a_history_of_an_earlier_version_replays(path: Path) -> None:
    """The recorded history replays without a non-determinism error, its results decoding
    into today's shapes."""
    history = WorkflowHistory.from_json(f"nestr-old-{path.stem}", path.read_text())
    replayer = Replayer(workflows=[NestrRun], workflow_runner=sandbox_runner())
    result = asyncio.run(replayer.replay_workflow(history))
    assert result.replay_failure is None


def test_the_recorded_histories_are_there() -> None:
    """The four recorded histories are found (a moved folder would skip the replays)."""
    assert len(list(HISTORIES.glob("*.json"))) == 4
