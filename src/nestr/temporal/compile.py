"""A run as the Temporal workflow takes it: its plan's scheduling and its context.

Pure: the same :class:`~nestr.workflow.executor.RunSpec` always gives the same
:class:`~nestr.temporal.shapes.RunInput` and the same plan hash, the input that names the
plan a workflow runs (workers cache plans under it, so a definition changed while a run is in
flight never reaches that run's steps).
"""

from __future__ import annotations

from nestr.temporal.activities import context_hash
from nestr.temporal.shapes import NodeSpec, RunContext, RunInput
from nestr.temporal.worker import registered_queue
from nestr.workflow.executor import RunSpec
from nestr.workflow.plan import Instance, repo_dict
from nestr.workflow.render import reads_scope


def run_context(spec: RunSpec) -> RunContext:
    """The run's record as workers rebuild its plan from, hash included."""
    selected: dict[str, list[dict[str, object]]] = {}
    for instance in spec.plan.instances:
        if instance.step.foreach is not None and instance.repo is not None:
            selected.setdefault(instance.step.id, []).append(repo_dict(instance.repo))
    manifest = str(spec.manifest_path) if spec.manifest_path else None
    context = RunContext(
        run_id=spec.run_id,
        definition=spec.plan.workflow.to_dict(),
        selected=selected,
        inputs=dict(spec.inputs),
        root=str(spec.root),
        manifest=manifest,
        plan_hash="",
    )
    context.plan_hash = context_hash(context)
    return context


def run_input(spec: RunSpec, *, limit: int, heartbeat: float) -> RunInput:
    """The workflow input of ``spec``; ``limit`` is capped by the workflow's ``concurrency``."""
    workflow = spec.plan.workflow
    if workflow.concurrency:
        limit = min(limit, workflow.concurrency)
    host = registered_queue(spec.root)
    return RunInput(
        context=run_context(spec),
        nodes=[_node(i, host) for i in spec.plan.instances],
        limit=max(1, limit),
        fail_fast=workflow.fail_fast,
        heartbeat=heartbeat,
        done={key: dict(record.outputs or {}) for key, record in spec.done.items()},
        compensates=any(s.compensate is not None for s in workflow.steps),
        ended={key: str(status) for key, status in spec.ended.items()},
        compensating=spec.compensating,
    )


def _node(instance: Instance, host_queue: str | None) -> NodeSpec:
    step = instance.step
    retry = step.retry
    return NodeSpec(
        key=instance.key,
        needs=list(instance.needs),
        continue_on_error=step.continue_on_error,
        attempts=retry.attempts,
        initial=retry.initial,
        max_interval=retry.max,
        exponential=retry.backoff == "exponential",
        timeout=step.timeout,
        reads_scope=reads_scope(step),
        queue=host_queue if instance.repo is not None else None,
    )
