"""Temporal runs whose submitter is gone: refreshed from the cluster, cancelled on it.

A run on Temporal goes on when the process that submitted it dies; its record names the
cluster and the workflow (``executor: temporal`` and ``temporal`` in its context, written
before the workflow starts). ``nestr runs list``/``runs show`` bring such a record up to date:
the workflow's progress query while it runs, its result once it ended (then the run is
recorded ended, with its events). ``nestr runs cancel`` cancels the workflow, waits for it to
stop (its compensations, if any, run first) and records how it ended. Nothing here starts a
workflow. The cluster is asked from a thread of its own, within a deadline, so neither a
command nor a server's event loop waits on an unreachable cluster for long.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from nestr.errors import WorkFailed
from nestr.events.bus import EventBus
from nestr.store.records import RunRecord
from nestr.store.runs import RunStore
from nestr.temporal.executor import finished_events, run_status, workflow_id
from nestr.temporal.projection import Projection
from nestr.temporal.shapes import PROGRESS_QUERY, RunOutcome
from nestr.workflow.executor import RunResult
from nestr.workflow.runs import recorded_spec
from nestr.workflow.tracking import REFRESH_TIMEOUT, Cancelled

logger = logging.getLogger(__name__)
CONNECT_TIMEOUT = 5.0  # seconds a cancel waits to reach the cluster
CANCEL_WAIT = 30.0  # seconds a cancel waits for the workflow to stop before it says "requested"
T = TypeVar("T")


@dataclass(frozen=True)
class Seen:
    """What the cluster said of one run's workflow: its progress, or its result (``ended``)."""

    run_id: str  # Temporal's run id of the workflow
    outcome: RunOutcome
    ended: bool


class TemporalTracker:
    """The ``temporal`` executor's :class:`~nestr.workflow.tracking.RunTracker`."""

    def refresh(self, store: RunStore, bus: EventBus, records: Sequence[RunRecord]) -> None:
        try:
            seen, unanswered = in_thread(lambda: _look_all(records), REFRESH_TIMEOUT)
        except Exception:
            seen, unanswered = {}, [r.id for r in records]
        for record in records:
            if record.id in seen:
                project(store, bus, record, seen[record.id])
        if unanswered:
            logger.warning(
                "Temporal did not answer within %gs about run %s: shown as recorded",
                REFRESH_TIMEOUT,
                ", ".join(unanswered),
            )

    def cancel(self, store: RunStore, bus: EventBus, record: RunRecord) -> Cancelled:
        where = _where(record)
        try:
            done, seen = in_thread(lambda: _cancel(record), CONNECT_TIMEOUT + CANCEL_WAIT + 10)
        except (RPCError, RuntimeError, TimeoutError) as exc:
            raise WorkFailed(
                f"cannot cancel run {record.id}: the Temporal cluster at {where[0]} did not"
                f" answer ({_short(exc)}); nothing was recorded",
                hint="try again once it answers, or cancel it there: `temporal workflow"
                f" cancel --workflow-id {_workflow(record)}`",
            ) from exc
        if seen is not None:
            project(store, bus, record, seen)
        if done == "cancelled" and store.run(record.id).status != "cancelled":
            return "ended"  # it ended another way before the cancel reached it
        return done


def temporal_tracker() -> TemporalTracker:
    """The tracker of the ``temporal`` executor (the ``nestr.trackers`` entry point)."""
    return TemporalTracker()


def project(store: RunStore, bus: EventBus, record: RunRecord, seen: Seen) -> None:
    """Copy what the cluster said of ``record``'s run into the store; when the workflow
    ended, record the run's end (unless a process took the run over meanwhile)."""
    spec = recorded_spec(record, store.steps(record.id), Path(store.db.path).parent)
    ids = {"workflow_id": _workflow(record), "run_id": seen.run_id}
    offsets = record.context.get("temporal", {}).get("attempts_before", {})
    projection = Projection(store, bus, spec, ids, offsets=offsets)
    projection.apply(seen.outcome)
    if not seen.ended:
        return
    status, steps = run_status(seen.outcome.status), tuple(store.steps(record.id))
    now = time.time()
    result = RunResult(
        record.id, record.workflow, status, steps, now - record.created, seen.outcome.compensation
    )
    events = finished_events(result, ids)
    for event in store.finish_left(record, status, now, events, result.compensation):
        bus.publish(event)


def in_thread(work: Callable[[], Coroutine[Any, Any, T]], timeout: float) -> T:
    """Run ``work`` on an event loop of its own in a thread, and wait for it at most
    ``timeout`` seconds (a ``TimeoutError`` then; the thread is left to end by itself)."""
    box: dict[str, Any] = {}

    def go() -> None:
        try:
            box["value"] = asyncio.run(work())
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=go, name="nestr-temporal", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {timeout:g}s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


async def _look_all(records: Sequence[RunRecord]) -> tuple[dict[str, Seen], list[str]]:
    """What the cluster says of each run that answers within the deadline, and the runs
    that did not answer (unknown workflows are neither: there is nothing to say of them)."""
    clients: dict[tuple[str, str], asyncio.Future[Client]] = {}
    for record in records:
        if (where := _where(record)) not in clients:
            clients[where] = asyncio.ensure_future(Client.connect(where[0], namespace=where[1]))
    tasks = {r.id: asyncio.ensure_future(_look(r, clients[_where(r)])) for r in records}
    await asyncio.wait(tasks.values(), timeout=REFRESH_TIMEOUT - 0.5)
    seen: dict[str, Seen] = {}
    unanswered = []
    for run_id, task in tasks.items():
        if not task.done():
            task.cancel()
            unanswered.append(run_id)
        elif task.exception() is not None:
            unanswered.append(run_id)
        elif (found := task.result()) is not None:
            seen[run_id] = found
    for connecting in clients.values():
        connecting.cancel()
    await asyncio.gather(*tasks.values(), *clients.values(), return_exceptions=True)
    return seen, unanswered


async def _look(record: RunRecord, connecting: asyncio.Future[Client]) -> Seen | None:
    """The workflow's progress while it runs, its result once it completed; None when the
    cluster has no such workflow or it closed without a result (terminated)."""
    client = await asyncio.shield(connecting)
    handle = client.get_workflow_handle(_workflow(record), result_type=RunOutcome)
    try:
        described = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if described.status == WorkflowExecutionStatus.RUNNING:
        progress = await handle.query(PROGRESS_QUERY, 0, result_type=RunOutcome)
        return Seen(described.run_id, progress, ended=False)
    if described.status == WorkflowExecutionStatus.COMPLETED:
        return Seen(described.run_id, await handle.result(), ended=True)
    return None


async def _cancel(record: RunRecord) -> tuple[Cancelled, Seen | None]:
    """Cancel the run's workflow and wait for its result (at most :data:`CANCEL_WAIT`)."""
    handle = await asyncio.wait_for(_handle(record), CONNECT_TIMEOUT)
    try:
        described = await asyncio.wait_for(handle.describe(), CONNECT_TIMEOUT)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return "absent", None
        raise
    if described.status == WorkflowExecutionStatus.COMPLETED:
        return "ended", Seen(described.run_id, await handle.result(), ended=True)
    if described.status != WorkflowExecutionStatus.RUNNING:
        return "absent", None  # closed without a result: nothing runs there any more
    await handle.cancel()
    try:
        outcome = await asyncio.wait_for(handle.result(), CANCEL_WAIT)
    except TimeoutError:
        return "requested", None
    return "cancelled", Seen(described.run_id, outcome, ended=True)


async def _handle(record: RunRecord) -> WorkflowHandle[Any, RunOutcome]:
    address, namespace = _where(record)
    client = await Client.connect(address, namespace=namespace)
    return client.get_workflow_handle(_workflow(record), result_type=RunOutcome)


def _where(record: RunRecord) -> tuple[str, str]:
    """The cluster that runs ``record``: its address and namespace."""
    temporal = record.context.get("temporal", {})
    return str(temporal.get("address", "")), str(temporal.get("namespace", "default"))


def _workflow(record: RunRecord) -> str:
    recorded = record.context.get("temporal", {}).get("workflow_id")
    return str(recorded) if recorded else workflow_id(record.id)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
