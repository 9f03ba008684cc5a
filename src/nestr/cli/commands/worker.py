"""``nestr worker``: run nestr's workflows and steps for a Temporal cluster (docs/temporal.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from nestr.cli.context import local_session

if TYPE_CHECKING:
    from nestr.config.settings import Settings
    from nestr.temporal.worker import WorkerSpec


@click.command()
@click.option("--task-queue", metavar="QUEUE", help="Queue to poll (default: temporal.task_queue).")
@click.option(
    "--host-queue",
    is_flag=True,
    help="Also poll this host's queue, which runs the steps that touch its checkouts.",
)
@click.option(
    "--host-name",
    metavar="NAME",
    help="Name of this host's queue: <task-queue>@NAME (default: the host name).",
)
@click.option(
    "-w",
    "--workspace",
    "workspaces",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A workspace this host holds (repeatable): its checkout steps come to this host.",
)
@click.option("--jobs", type=click.IntRange(min=1), help="Steps run at once (default: jobs).")
@click.pass_context
def worker(
    ctx: click.Context,
    task_queue: str | None,
    host_queue: bool,
    host_name: str | None,
    workspaces: tuple[Path, ...],
    jobs: int | None,
) -> int:
    """Run workflows and steps for temporal.address until SIGTERM or Ctrl-C.

    Step events and logs go to this host's event log (`nestr events`) and, when
    server.address is set (or --server), to that nestr server too. With --host-queue, each
    --workspace is registered as held by this host (WORKSPACE/.nestr/worker-queue), and the
    steps of runs in it that touch a checkout are sent to this worker.
    """
    import asyncio

    from nestr.temporal.worker import WorkerSpec, host_queue_name

    settings = local_session(ctx).settings  # server.address: where its events go too
    queue = task_queue or settings.temporal.task_queue
    if (workspaces or host_name) and not host_queue:
        raise click.UsageError("--workspace and --host-name need --host-queue")
    spec = WorkerSpec(
        task_queue=queue,
        host_queue=host_queue_name(queue, host_name) if host_queue else None,
        workspaces=tuple(w.resolve() for w in workspaces),
        jobs=jobs or settings.jobs,
        heartbeat_every=max(0.2, min(5.0, settings.temporal.heartbeat_timeout / 4)),
    )
    asyncio.run(_serve(settings, spec))
    return 0


async def _serve(settings: Settings, spec: WorkerSpec) -> None:
    """Serve until SIGTERM/SIGINT, forwarding events when a server is set; say on stderr
    which queues are polled once they are."""
    import asyncio
    import signal

    from nestr import runtime
    from nestr.client.forward import forwarding
    from nestr.temporal.worker import run_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with forwarding(settings) as forwarder:
        ready = asyncio.Event()
        task = asyncio.create_task(run_worker(settings, spec, stop=stop, ready=ready))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            runtime.settle()  # the worker's code and clients stay out of later collections
            queues = ", ".join(q for q in (spec.task_queue, spec.host_queue) if q)
            events = f"; events to {forwarder.address}" if forwarder else ""
            click.echo(
                f"nestr worker: polling {queues} on {settings.temporal.address}{events}", err=True
            )
        waiter.cancel()
        await task
