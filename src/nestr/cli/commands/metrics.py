"""``nestr metrics serve``: Prometheus metrics from this machine's event log (docs/metrics.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from nestr import runtime
from nestr.cli.context import local_session

if TYPE_CHECKING:
    from nestr.session import Session

DEFAULT_LISTEN = "127.0.0.1:9464"  # the port OpenTelemetry's Prometheus exporter uses too


@click.group()
def metrics() -> None:
    """Serve Prometheus metrics derived from the event log."""


@metrics.command()
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help=f"Address to serve /metrics on (default: metrics.listen, else {DEFAULT_LISTEN}; "
    "port 0 picks a free one).",
)
@click.pass_context
def serve(ctx: click.Context, listen: str | None) -> int:
    """Count the events of the log and serve them at /metrics until SIGTERM or Ctrl-C.

    It replays the log once when it starts, then follows it as any nestr process appends:
    counters are totals over the log. `nestr serve` serves the same metrics (with
    metrics.listen set), plus those of its event streams.
    """
    import asyncio

    nestr = local_session(ctx, only_here=True)
    address = listen or nestr.settings.metrics.listen or DEFAULT_LISTEN
    asyncio.run(_serve(nestr, address))
    return 0


async def _serve(nestr: Session, listen: str) -> None:
    import asyncio
    import signal

    from nestr.watchers.metrics_endpoint import MetricsEndpoint

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    endpoint = MetricsEndpoint.start(nestr, listen=listen)
    runtime.settle()  # what serves the metrics stays out of later collections
    click.echo(f"metrics on {endpoint.url}")
    try:
        await stop.wait()
    finally:
        await endpoint.stop()
