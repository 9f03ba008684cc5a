"""``nestr worker``: a process that runs nestr runs' workflows and steps for a Temporal cluster.

A worker polls the run task queue (``temporal.task_queue``, or ``--task-queue``) for workflow
tasks and for the steps that may run anywhere. With a host queue it also polls the queue of
this host, and registers it in each workspace it serves (``<workspace>/.nestr/worker-queue``):
a submitter sends the steps that touch that workspace's checkouts there, so they run on the
host that holds them.

Steps run through the registry a local session builds (:attr:`nestr.session.Session.steps`):
the ``nestr.steps`` entry points, then the plugin processes of the ``plugins:`` setting,
``nestr.plugins`` entry points and ``PATH``, each started on the first step that needs it and
stopped when the worker stops. Their events, and the steps', go to the worker's event log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from nestr.atomicfile import write_atomic
from nestr.config.settings import Settings
from nestr.session import Session
from nestr.temporal.activities import StepActivities
from nestr.temporal.interpreter import NestrRun
from nestr.workflow.registry import StepRegistry

REGISTRATION = Path(".nestr") / "worker-queue"  # in a workspace: the queue of its host


def host_queue_name(task_queue: str, host: str | None = None) -> str:
    """The queue of one host's worker: ``<task_queue>@<host>``."""
    return f"{task_queue}@{host or socket.gethostname()}"


def registered_queue(root: Path) -> str | None:
    """The host queue registered in the workspace at ``root``, if a worker registered one."""
    try:
        return (root / REGISTRATION).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def register(workspace: Path, queue: str) -> None:
    """Record that the steps touching ``workspace``'s checkouts run on ``queue``."""
    (workspace / REGISTRATION.parent).mkdir(parents=True, exist_ok=True)
    write_atomic(workspace / REGISTRATION, (queue + "\n").encode())


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox, with nestr's modules passed through: the interpreter imports
    only the pure scheduler and plain data from them, and re-importing them per run would
    cost every workflow task."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules("nestr")
    return SandboxedWorkflowRunner(restrictions=restrictions)


@dataclass(frozen=True)
class WorkerSpec:
    """What one ``nestr worker`` serves."""

    task_queue: str
    host_queue: str | None = None
    workspaces: Sequence[Path] = ()  # registered as held by this host's queue
    jobs: int = 8  # steps run at once
    heartbeat_every: float = 1.0


async def connect(settings: Settings) -> Client:
    """A client of ``temporal.address`` / ``temporal.namespace``."""
    return await Client.connect(settings.temporal.address, namespace=settings.temporal.namespace)


async def run_worker(
    settings: Settings,
    spec: WorkerSpec,
    *,
    stop: asyncio.Event,
    client: Client | None = None,
    registry: StepRegistry | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve ``spec``'s queues until ``stop`` is set; steps publish to the local event log.

    ``registry`` (tests, benchmarks) replaces the session's: entry points and plugins. A
    failed try is a step's business, recorded in its events: the SDK's warning with a
    traceback for each one is silenced."""
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    client = client or await connect(settings)
    with Session(settings, cwd=Path.cwd()) as session:  # closing it stops the plugins
        activities = StepActivities(
            client,
            session.bus,
            state_dir=settings.state_dir,
            settings=settings,
            registry=registry or session.steps,
            heartbeat_every=spec.heartbeat_every,
        )
        async with contextlib.AsyncExitStack() as stack:
            for worker in _workers(client, spec, activities):
                await stack.enter_async_context(worker)
            if ready is not None:
                ready.set()
            await stop.wait()


def _workers(client: Client, spec: WorkerSpec, activities: StepActivities) -> list[Worker]:
    """The run queue's worker (workflows and steps), and the host queue's (steps only),
    registered in the workspaces it holds."""
    workers = [
        Worker(
            client,
            task_queue=spec.task_queue,
            workflows=[NestrRun],
            activities=[activities.run_step],
            max_concurrent_activities=spec.jobs,
            workflow_runner=sandbox_runner(),
        )
    ]
    if spec.host_queue is not None:
        for workspace in spec.workspaces:
            register(workspace, spec.host_queue)
        workers.append(
            Worker(
                client,
                task_queue=spec.host_queue,
                activities=[activities.run_step],
                max_concurrent_activities=spec.jobs,
            )
        )
    return workers
