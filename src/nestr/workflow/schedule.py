"""The scheduling decisions of a run, as pure code over plain data.

A :class:`Schedule` knows the instances of a run (key, needs, whether a failure may be
ignored), what ended before (a resume, a retry), the concurrency limit and whether the
workflow fails fast. An executor tells it what happened — :meth:`Schedule.finished`,
:meth:`Schedule.cancel` — and asks it what to do next — :meth:`Schedule.advance` returns
:class:`Start`, :class:`Settle` and :class:`Interrupt` actions — until :attr:`Schedule.over`;
:meth:`Schedule.final_status` then says how the run ended. No asyncio, store or clock: the
local executor drives it from its event loop, and a Temporal workflow can drive the same
decisions deterministically from its history.

Readiness is tracked with a counter of unfinished needs per instance, so an instance is
examined once, when its last need ends (O(edges) for the whole run however wide its layers).
The same calls in the same order give the same actions in the same order, in any process:
nothing depends on hashing order or time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from nestr.store.records import RunStatus, StepStatus
from nestr.workflow.plan import Plan

# How an instance that ran may end, as its executor reports it.
Outcome = Literal["succeeded", "failed", "skipped", "cancelled"]
FAIL_FAST_REASON = "fail_fast: another step failed"
CANCEL_REASON = "run cancelled"


@dataclass(frozen=True)
class Node:
    """One instance as the scheduler sees it."""

    key: str
    needs: tuple[str, ...] = ()
    continue_on_error: bool = False  # its failure neither fails the run nor blocks dependents


@dataclass(frozen=True)
class Start:
    """Run the instance ``key`` now (it holds one of the ``limit`` slots until it finishes)."""

    key: str


@dataclass(frozen=True)
class Settle:
    """Record the instance ``key`` as ended without running: skipped or cancelled."""

    key: str
    status: Literal["skipped", "cancelled"]
    reason: str


@dataclass(frozen=True)
class Interrupt:
    """Stop the running instance ``key``; its executor reports it cancelled once it is."""

    key: str
    reason: str


Action = Start | Settle | Interrupt


class Schedule:
    """The state of one run's scheduling; see the module docstring."""

    def __init__(
        self,
        nodes: Iterable[Node],
        *,
        done: Iterable[str] = (),
        ended: Mapping[str, StepStatus] | None = None,
        limit: int = 1,
        fail_fast: bool = True,
    ) -> None:
        self.nodes = {node.key: node for node in nodes}
        self.limit = max(1, limit)
        self.fail_fast = fail_fast
        kept = {k: v for k, v in (ended or {}).items() if k in self.nodes}
        finished = set(done) | set(kept)
        self._states: dict[str, StepStatus] = {
            key: kept.get(key, "succeeded") if key in finished else "pending" for key in self.nodes
        }
        self._dependents: dict[str, list[str]] = {key: [] for key in self.nodes}
        self._waiting: dict[str, int] = {}
        for node in self.nodes.values():
            needs = dict.fromkeys(node.needs)  # not a set: the order must not vary by process
            for need in needs:
                self._dependents[need].append(node.key)
            self._waiting[node.key] = sum(1 for need in needs if need not in finished)
        self._ready: deque[str] = deque(
            key
            for key, count in self._waiting.items()
            if not count and self._states[key] == "pending"
        )
        self._startable: deque[str] = deque()  # examined, waiting for a free slot
        self._running: set[str] = set()
        self._interrupts: list[Interrupt] = []
        self._cancel_pending = False
        self.stopping: Literal["cancelled", "fail_fast"] | None = None
        self.examined = 0  # readiness checks made: one per instance over a whole run

    @classmethod
    def for_plan(
        cls,
        plan: Plan,
        *,
        done: Iterable[str] = (),
        ended: Mapping[str, StepStatus] | None = None,
        limit: int = 1,
    ) -> Schedule:
        """The schedule of ``plan``'s instances; ``limit`` is capped by the workflow's own
        ``concurrency``. ``done`` succeeded before; ``ended`` ended otherwise before and stay
        so (a retry of one step leaves the run's other failures as they are)."""
        workflow = plan.workflow
        nodes = (Node(i.key, i.needs, i.step.continue_on_error) for i in plan.instances)
        if workflow.concurrency:
            limit = min(limit, workflow.concurrency)
        return cls(nodes, done=done, ended=ended, limit=limit, fail_fast=workflow.fail_fast)

    @property
    def states(self) -> Mapping[str, StepStatus]:
        """Every instance's status as the scheduler knows it (live view)."""
        return self._states

    @property
    def over(self) -> bool:
        """Nothing runs and nothing more can start: the run has ended."""
        busy = self._running or self._ready or self._startable or self._interrupts
        return not busy and not self._cancel_pending

    def advance(self) -> list[Action]:
        """Every decision that can be taken now: interrupts of a stop, instances to settle
        (skipped after a need that did not pass, or cancelled by a stop) and, within the
        free slots, instances to start, in the order they became ready."""
        actions: list[Action] = [*self._interrupts]
        self._interrupts = []
        if self.stopping is not None:
            if self._cancel_pending:
                self._cancel_pending = False
                reason = self._reason()
                pending = [k for k, status in self._states.items() if status == "pending"]
                actions.extend(self._settle(key, "cancelled", reason) for key in pending)
                self._ready.clear()  # what those settles released is cancelled already
                self._startable.clear()
            return actions
        while self._ready:  # a skip takes no slot: decided at once, and may free more
            key = self._ready.popleft()
            self.examined += 1
            blocked = self._blocked_by(key)
            if blocked is None:
                self._startable.append(key)
            else:
                actions.append(self._settle(key, "skipped", f"needs {blocked}"))
        while self._startable and len(self._running) < self.limit:
            key = self._startable.popleft()
            self._states[key] = "running"
            self._running.add(key)
            actions.append(Start(key))
        return actions

    def finished(self, key: str, outcome: Outcome) -> None:
        """The started instance ``key`` ended with ``outcome``."""
        self._running.discard(key)
        self._states[key] = outcome
        self._release(key)
        node = self.nodes[key]
        if outcome == "failed" and self.fail_fast and not node.continue_on_error:
            self._stop("fail_fast")

    def cancel(self) -> None:
        """Stop the run: running instances are interrupted, the others cancelled."""
        self._stop("cancelled")

    def final_status(self) -> RunStatus:
        """How the run ended: cancelled when stopped by a cancel; failed when an instance
        failed or was cancelled without ``continue_on_error``; else succeeded."""
        if self.stopping == "cancelled":
            return "cancelled"
        for key, status in self._states.items():
            if status in {"failed", "cancelled"} and not self.nodes[key].continue_on_error:
                return "failed"
        return "succeeded"

    def _settle(self, key: str, status: Literal["skipped", "cancelled"], reason: str) -> Settle:
        self._states[key] = status
        self._release(key)
        return Settle(key, status, reason)

    def _release(self, key: str) -> None:
        """``key`` is over: dependents whose last pending need it was become ready."""
        for dependent in self._dependents[key]:
            self._waiting[dependent] -= 1
            if not self._waiting[dependent] and self._states[dependent] == "pending":
                self._ready.append(dependent)

    def _blocked_by(self, key: str) -> str | None:
        """``"<need> <status>"`` for the first need that did not pass, else None (a failure
        of a need with ``continue_on_error`` passes)."""
        for need in self.nodes[key].needs:
            status = self._states[need]
            if status == "succeeded":
                continue
            if status == "failed" and self.nodes[need].continue_on_error:
                continue
            return f"{need} {status}"
        return None

    def _stop(self, why: Literal["cancelled", "fail_fast"]) -> None:
        """Stop once: running instances get an interrupt, the rest is cancelled by the next
        :meth:`advance`."""
        if self.stopping is not None:
            return
        self.stopping = why
        reason = self._reason()
        self._interrupts = [Interrupt(key, reason) for key in self._states if key in self._running]
        self._cancel_pending = True  # by the next advance

    def _reason(self) -> str:
        return FAIL_FAST_REASON if self.stopping == "fail_fast" else CANCEL_REASON
