"""nestr's store as a projection of a Temporal run: each instance's changes, copied in.

The workflow's progress query (and at the end its result) gives every instance's state; the
projection compares it with what it wrote before and records only what changed: a start as
the instance's try starting, an end as its last try ending (so ``runs show`` gives the try
count and error Temporal saw), a skip or cancel without a try as a settle. Each change is
published with the usual step event, whose data also name the Temporal workflow and run.
When the workflow compensates, the projection records the compensations' rows and
``compensation.started`` (as the local executor does) before their first change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, cast

from nestr.events.bus import EventBus
from nestr.events.catalog import (
    COMPENSATION_STARTED,
    STEP_FINISHED,
    STEP_RETRYING,
    STEP_STARTED,
    CompensationStarted,
    StepEnded,
    StepStarted,
)
from nestr.store.attempts import AttemptEnd
from nestr.store.compensations import begin_compensation
from nestr.store.records import RunStatus, StepRecord, StepStatus
from nestr.store.runs import RunStore
from nestr.temporal.compile import run_context
from nestr.temporal.payloads import log_place, recorded_outputs
from nestr.temporal.shapes import RunOutcome, StepState
from nestr.workflow.executor import RunSpec
from nestr.workflow.plan import Instance
from nestr.workflow.saga import instance_of, is_compensation
from nestr.workflow.stepevents import StepEvents

logger = logging.getLogger(__name__)
_ENDS = frozenset({"succeeded", "failed", "skipped", "cancelled"})


class Projection:
    """The store's copy of one Temporal run."""

    def __init__(
        self,
        store: RunStore,
        bus: EventBus,
        spec: RunSpec,
        temporal: dict[str, str],
        offsets: Mapping[str, int] | None = None,
    ) -> None:
        """``offsets``: by key, the tries recorded before the workflow's first (a retry's
        workflow counts its tries from 1; the record numbers them after the earlier ones)."""
        self.store = store
        self.bus = bus
        self.spec = spec
        self.temporal = temporal
        self.offsets = dict(offsets or {})
        self.events = StepEvents(spec.run_id)
        self.plan_hash = run_context(spec).plan_hash
        self._seen: dict[str, str] = dict.fromkeys(spec.done, "succeeded")
        self._attempt: dict[str, int] = {}  # the try recorded started, by key
        self.version = 0  # the workflow's last change this projection has seen
        self.compensating = False  # the compensations' rows are recorded
        self._seed(store.steps(spec.run_id))

    def _seed(self, recorded: list[StepRecord]) -> None:
        """Start from the record as it is (another process may have projected part of the
        run before), so only what changed since is written again."""
        for step in recorded:
            self._seen[step.key] = step.status
            if step.status != "pending" and step.attempts:
                self._attempt[step.key] = step.attempts
            self.compensating = self.compensating or is_compensation(step.key)

    def plan_changed(self, running: str) -> None:
        """The workflow runs another plan than the record's: it goes on with its own."""
        logger.warning(
            "run %s: Temporal runs plan %s, the record has plan %s; it goes on with its own",
            self.spec.run_id,
            running,
            self.plan_hash,
        )

    def apply(self, outcome: RunOutcome) -> None:
        """Record every change ``outcome`` shows since the last call: the steps', then the
        compensations' (once recorded as begun)."""
        states = {
            key: raw if isinstance(raw, StepState) else StepState(**cast("Any", raw))
            for key, raw in outcome.steps.items()
        }
        forward = {k: v for k, v in states.items() if not is_compensation(k)}
        self._apply(forward)
        undo = {k: v for k, v in states.items() if is_compensation(k)}
        if undo and not self.compensating:
            self._begin_compensation(outcome.outcome or outcome.status, list(undo))
        self._apply(undo)

    def _begin_compensation(self, status: str, keys: list[str]) -> None:
        """Record the compensations the workflow runs and publish ``compensation.started``."""
        self.compensating = True
        workflow = self.spec.plan.workflow.name
        event = COMPENSATION_STARTED.event(
            CompensationStarted(outcome=status, steps=keys),
            subject=workflow,
            run_id=self.spec.run_id,
            severity="warning",
        )
        rows = []
        for key in keys:
            instance = instance_of(self.spec.plan, key)
            rows.append((key, instance.step.id, instance.repo.name if instance.repo else None))
        ended = cast("RunStatus", status)
        self.bus.publish(begin_compensation(self.store.db, self.spec.run_id, ended, rows, event))

    def _apply(self, states: dict[str, StepState]) -> None:
        settles: list[tuple[Instance, StepStatus, str | None]] = []
        for key, state in states.items():
            if self._seen.get(key, "pending") == state.status:
                continue
            instance = instance_of(self.spec.plan, key)
            ran = key in self._attempt or state.attempts > 0
            if state.status == "running":
                self._start(instance, self._recorded(key, state))
            elif state.status in _ENDS and (state.status != "skipped" and ran):
                self._end(instance, state)
            elif state.status in _ENDS:
                settles.append((instance, cast("StepStatus", state.status), state.error))
            self._seen[key] = state.status
        if settles:
            self._settle(settles)

    def _start(self, instance: Instance, attempt: int) -> None:
        previous = self._attempt.get(instance.key)
        if previous == attempt:
            return
        if (
            previous is not None
            and previous < attempt
            and self._seen.get(instance.key) == "running"
        ):
            self._retried(instance, previous)
        self._attempt[instance.key] = attempt
        data = self._tagged(StepStarted(attempt=attempt))
        event = self.events.event(instance, STEP_STARTED, cast("StepStarted", data))
        now = self._now()
        self.bus.publish(
            self.store.start_attempt(self.spec.run_id, instance.key, attempt, now, event)
        )

    def _retried(self, instance: Instance, attempt: int) -> None:
        """End the try ``attempt`` recorded running, which the workflow retried since (the
        workflow tells only of an instance's last try: an earlier one failed)."""
        data = self._tagged(StepEnded(attempt=attempt, status="failed"))
        event = self.events.event(instance, STEP_RETRYING, cast("StepEnded", data))
        end = AttemptEnd("failed")
        self.bus.publish(
            self.store.finish_attempt(
                self.spec.run_id, instance.key, attempt, end, self._now(), event
            )
        )

    def _recorded(self, key: str, state: StepState) -> int:
        """The number the record gives the workflow's current try of ``key``."""
        return self.offsets.get(key, 0) + max(1, state.attempts)

    def _end(self, instance: Instance, state: StepState) -> None:
        attempt = self._recorded(instance.key, state)
        self._start(instance, attempt)
        status = state.status
        step_status = cast("Any", status)
        outputs = recorded_outputs(state.outputs, state.stored)
        end = AttemptEnd(
            "succeeded" if status == "succeeded" else cast("Any", status),
            step_status=step_status,
            error=state.error if status != "succeeded" else None,
            outputs=outputs if status == "succeeded" else None,
        )
        data = StepEnded(attempt=attempt, status=status)
        if status == "succeeded":
            data["outputs"] = outputs
        else:
            data["error"] = state.error
        place = log_place(state.log)
        if place is not None:  # where the worker keeps the log (``nestr runs logs`` reads it)
            data["log"] = asdict(place)
        event = self.events.event(instance, STEP_FINISHED, cast("StepEnded", self._tagged(data)))
        self.bus.publish(
            self.store.finish_attempt(
                self.spec.run_id, instance.key, attempt, end, self._now(), event
            )
        )

    def _settle(self, ends: list[tuple[Instance, StepStatus, str | None]]) -> None:
        events = [
            self.events.event(
                instance,
                STEP_FINISHED,
                cast("StepEnded", self._tagged(StepEnded(status=status, reason=reason, attempt=0))),
            )
            for instance, status, reason in ends
        ]
        changes = [(instance.key, status, reason) for instance, status, reason in ends]
        for event in self.store.settle_steps(self.spec.run_id, changes, self._now(), events):
            self.bus.publish(event)

    def _tagged(self, data: Any) -> dict[str, Any]:
        return {**data, "temporal": self.temporal}

    @staticmethod
    def _now() -> float:
        return time.time()
