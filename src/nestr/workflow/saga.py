"""Compensation (the saga pattern) as pure code: which compensations a failed or cancelled run
runs, in which order, and how that phase ends.

When a run ends ``failed`` or ``cancelled``, every instance that succeeded and whose step
declares ``compensate:`` is undone by a *compensation*: an instance of its own, keyed
``compensate:KEY`` (``compensate:push[api]``), that runs the step's ``compensate`` body with
the step's repo, environment, retry policy and timeout. Compensations run in reverse
dependency order: the compensation of X waits for the compensations of every instance
downstream of X that has one (an instance between them without a compensation passes the
order on). Nothing else is decided here that :class:`~nestr.workflow.schedule.Schedule` does
not already decide: the compensations are a schedule of their own whose nodes never block
one another on failure (``continue_on_error``), so a compensation that fails is recorded and
the others still run — the best effort an undo can make. The phase ends ``failed`` when any
compensation failed, else ``succeeded``.

No asyncio, store or clock: the local executor drives this from its event loop, and a
Temporal workflow can drive the same decisions from its history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from nestr.store.records import StepStatus
from nestr.workflow.executor import COMPENSATION_PREFIX
from nestr.workflow.model import StepDef
from nestr.workflow.plan import Instance, Plan
from nestr.workflow.schedule import Node, Schedule

PREFIX = COMPENSATION_PREFIX
CompensationStatus = Literal["running", "succeeded", "failed", "cancelled"]


def compensation_key(key: str) -> str:
    """The key of the compensation of instance ``key``."""
    return PREFIX + key


def is_compensation(key: str) -> bool:
    """Whether ``key`` names a compensation (a step id never holds ``:``)."""
    return key.startswith(PREFIX)


def compensation_step(step: StepDef) -> StepDef:
    """The step a compensation of ``step`` runs: its ``compensate`` body in the step's place,
    with the step's repo selection, retry policy and timeout; its ``cwd`` and ``env`` add to
    the step's. It has no condition (the step it undoes ran) and reads ``steps.ID`` of the
    step itself and the steps upstream of it."""
    body = step.compensate
    assert body is not None
    return replace(
        step,
        uses=body.uses,
        with_=dict(body.with_),
        cwd=body.cwd if body.cwd is not None else step.cwd,
        env={**step.env, **body.env},
        condition=None,
        compensate=None,
    )


@dataclass(frozen=True)
class Saga:
    """The compensations of one run: a :class:`Plan` of compensation instances (needs are in
    reverse: a compensation needs those of the instances downstream of its own)."""

    plan: Plan

    @property
    def keys(self) -> list[str]:
        return [i.key for i in self.plan.instances]

    def schedule(
        self,
        *,
        done: Iterable[str] = (),
        ended: Mapping[str, StepStatus] | None = None,
        limit: int = 1,
    ) -> Schedule:
        """The schedule of the compensations; ``done``/``ended`` as recorded before (a resume
        continues without running them again)."""
        nodes = (Node(i.key, i.needs, continue_on_error=True) for i in self.plan.instances)
        workflow = self.plan.workflow
        if workflow.concurrency:
            limit = min(limit, workflow.concurrency)
        return Schedule(nodes, done=done, ended=ended or {}, limit=limit, fail_fast=False)


def compensations(plan: Plan, states: Mapping[str, str]) -> Saga:
    """The compensations a run whose instances ended in ``states`` runs: one per succeeded
    instance whose step declares ``compensate:``, latest in definition order first."""
    undone = {
        i.key
        for i in plan.instances
        if i.step.compensate is not None and states.get(i.key) == "succeeded"
    }
    below: dict[str, tuple[str, ...]] = {}
    instances = []
    for instance in reversed(plan.instances):
        if instance.key not in undone:
            continue
        needs = tuple(compensation_key(k) for k in _nearest(plan, instance.key, undone, below))
        step = compensation_step(instance.step)
        instances.append(Instance(compensation_key(instance.key), step, instance.repo, needs))
    return Saga(Plan(plan.workflow, tuple(instances)))


def instance_of(plan: Plan, key: str) -> Instance:
    """Instance ``key`` of ``plan``, or the compensation ``key`` names (without its order:
    what runs it needs, not what schedules it)."""
    if not is_compensation(key):
        return plan.instance(key)
    undone = plan.instance(key.removeprefix(PREFIX))
    return Instance(key, compensation_step(undone.step), undone.repo, ())


def outcome(states: Mapping[str, str]) -> CompensationStatus:
    """How the compensations ended: ``failed`` when one failed (or could not run)."""
    failed = any(status in {"failed", "cancelled"} for status in states.values())
    return "failed" if failed else "succeeded"


def _nearest(
    plan: Plan, key: str, undone: set[str], memo: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """The compensated instances downstream of ``key`` with no compensated instance between
    (walked through instances without one, whatever their status: a failure with
    ``continue_on_error`` let its dependents run). Iterative, so a long chain of steps
    without compensations does not reach Python's recursion limit."""
    stack = [key]
    while stack:
        current = stack[-1]
        if current in memo:
            stack.pop()
            continue
        waiting = [
            d.key for d in plan.dependents[current] if d.key not in undone and d.key not in memo
        ]
        if waiting:
            stack.extend(waiting)
            continue
        found: dict[str, None] = {}
        for dependent in plan.dependents[current]:
            if dependent.key in undone:
                found[dependent.key] = None
            else:
                found.update(dict.fromkeys(memo[dependent.key]))
        memo[current] = tuple(found)
        stack.pop()
    return memo[key]
