"""A run's workflow as a face draws it: each step with what it needs, its layer, whether it
fans out per repo, and its retry policy.

The local Run screen and the server's ``GetRun`` both take it from here, so a run drawn over
``--server`` has the same layers and retry countdowns as one drawn from this machine's store.
Pure: built from the definition the run recorded (:meth:`RunQueries.graph`).
"""

from __future__ import annotations

from dataclasses import dataclass

from nestr.workflow.graph import edges_of, layers
from nestr.workflow.model import RetryPolicy, Workflow


@dataclass(frozen=True)
class StepNode:
    """One step of the DAG; its instances are keyed ``id`` or ``id[repo]``."""

    id: str
    needs: tuple[str, ...]
    layer: int  # 0: needs none; else one more than the deepest step it needs
    foreach: bool  # one instance per repo
    retry: RetryPolicy


@dataclass(frozen=True)
class RunGraph:
    """The steps of a run's workflow, in definition order."""

    steps: tuple[StepNode, ...]

    def layers(self) -> dict[str, int]:
        """Each step's layer, by step id."""
        return {s.id: s.layer for s in self.steps}

    def policies(self) -> dict[str, RetryPolicy]:
        """Each step's retry policy, by step id (what a retry countdown counts down from)."""
        return {s.id: s.retry for s in self.steps}


def run_graph(workflow: Workflow) -> RunGraph:
    """The graph of ``workflow``; a step in a cycle (never in a recorded run) gets no layer
    of its own and is drawn first."""
    layer = layers(edges_of(workflow))
    return RunGraph(
        tuple(
            StepNode(s.id, tuple(s.needs), layer.get(s.id, 0), s.foreach is not None, s.retry)
            for s in workflow.steps
        )
    )
