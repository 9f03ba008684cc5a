"""A run's DAG as faces draw it: layers by the deepest need, fan-out, retry policies."""

from __future__ import annotations

from nestr.workflow.model import RepoSelector, RetryPolicy, StepDef, Workflow
from nestr.workflow.rungraph import StepNode, run_graph


def test_a_steps_layer_is_one_more_than_its_deepest_need() -> None:
    """A step needing a layer-0 and a layer-1 step is in layer 2, whatever the order the steps
    are defined in; fan-out and retry policy are carried over per step."""
    retry = RetryPolicy(attempts=3, backoff="fixed", initial=2.0)
    workflow = Workflow(
        "w",
        (
            StepDef("ship", "noop", needs=("test", "fetch"), retry=retry),
            StepDef("test", "noop", needs=("fetch",), foreach=RepoSelector(all=True)),
            StepDef("fetch", "noop"),
        ),
    )
    graph = run_graph(workflow)
    assert graph.steps == (
        StepNode("ship", ("test", "fetch"), 2, False, retry),
        StepNode("test", ("fetch",), 1, True, RetryPolicy()),
        StepNode("fetch", (), 0, False, RetryPolicy()),
    )
    assert graph.layers() == {"ship": 2, "test": 1, "fetch": 0}
    assert graph.policies()["ship"] is retry
