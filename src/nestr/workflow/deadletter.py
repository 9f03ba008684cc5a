"""The dead-letter list as pure code: which instances ``nestr runs retry RUN STEP`` runs again.

A step instance that failed for good (its last try failed) in a run that ended failed or
cancelled stays on the list (``nestr runs failed-steps``) until a person re-drives it. A retry
runs again the failed instances of the step named, and every instance downstream of them that
did not run because of them (``skipped`` or ``cancelled``); the run's other failures and
everything that succeeded stay as they are, and the run's status is decided again when the
retry ends. A run that compensated is not retried: its succeeded steps were undone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from nestr.errors import NotFound, UsageError, did_you_mean
from nestr.workflow.plan import Plan

HELD_BACK = frozenset({"skipped", "cancelled"})  # did not run: a need failed, or a stop


def retry_keys(plan: Plan, states: Mapping[str, str], step: str, run_id: str) -> list[str]:
    """The instances a retry of ``step`` (an id, or an instance key like ``test[api]``) runs
    again, in plan order; an error naming the step when it has no failed instance."""
    named = [i.key for i in plan.instances if step in {i.key, i.step.id}]
    if not named:
        keys = [i.key for i in plan.instances]
        raise NotFound(
            f"run {run_id} has no step {step!r}",
            kind="step",
            name=step,
            hint=did_you_mean(step, keys) or "see `nestr runs failed-steps`",
        )
    failed = [k for k in named if states.get(k) == "failed"]
    if not failed:
        shown = ", ".join(f"{k} {states.get(k, 'pending')}" for k in named)
        raise UsageError(
            f"step {step!r} of run {run_id} did not fail ({shown})",
            hint=f"see `nestr runs failed-steps {run_id[:8]}`",
        )
    chosen = dict.fromkeys(failed)
    todo = deque(failed)
    while todo:
        for dependent in plan.dependents[todo.popleft()]:
            if dependent.key not in chosen and states.get(dependent.key) in HELD_BACK:
                chosen[dependent.key] = None
                todo.append(dependent.key)
    order = {i.key: n for n, i in enumerate(plan.instances)}
    return sorted(chosen, key=order.__getitem__)
