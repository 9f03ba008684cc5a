"""``nestr serve``: the gRPC server (docs/api.md) over this machine's store, until stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from nestr.cli.context import app, session

if TYPE_CHECKING:
    from nestr.cli.context import AppContext
    from nestr.config.live import LiveConfig
    from nestr.server.services.events import EventService
    from nestr.server.tls import ServerTls
    from nestr.session import Session
    from nestr.watchers.metrics_endpoint import MetricsEndpoint


@click.command()
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Address to listen on (default: server.listen; port 0 picks a free one).",
)
@click.pass_context
def serve(ctx: click.Context, listen: str | None) -> int:
    """Serve the event stream over gRPC until SIGTERM or Ctrl-C (then exit 0).

    Every call but health checks needs `authorization: Bearer <server.token>` when a token
    is set; TLS with server.tls.cert/key, mTLS with server.tls.client_ca; a non-loopback
    address without a token or mTLS is refused.

    The config is reloaded on SIGHUP and when a config file changes: log level and format
    and server.token apply at once (open streams go on); other settings need a restart.

    On start it resumes the runs of this host whose process died (server.resume_interrupted).

    With metrics.listen set it also serves Prometheus metrics at http://HOST:PORT/metrics.
    """
    import asyncio

    from nestr.config.live import LiveConfig
    from nestr.server.tls import server_tls

    nestr = session(ctx)
    context = app(ctx)
    settings = nestr.settings.server
    token = settings.token.get_secret_value() if settings.token is not None else None
    tls = server_tls(settings.tls, context.config().origins)
    live = LiveConfig(context.layer_inputs(), current=context.config())
    asyncio.run(_serve(nestr, listen or settings.listen, token, tls, live, context))
    return 0


async def _serve(
    nestr: Session,
    listen: str,
    token: str | None,
    tls: ServerTls | None,
    live: LiveConfig,
    context: AppContext,
) -> None:
    """Start the server and its config reloader, print where it listens, serve until
    SIGTERM/SIGINT, stop gracefully."""
    import asyncio
    import signal

    from nestr.server.app import start
    from nestr.server.recovery import resume_interrupted
    from nestr.server.reload import ConfigReloader

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await start(nestr, listen=listen, token=token, tls=tls, config=live)
    try:
        metrics = _start_metrics(nestr, server.events)
    except BaseException:
        await server.stop(0)
        raise
    assert server.auth is not None
    reloader = ConfigReloader(
        live,
        auth=server.auth,
        bus=nestr.bus,
        configure_log=context.configure_logging,
        listen=listen,
        mtls=tls is not None and tls.mutual,
    )
    reloader.start()  # before the address is printed: a SIGHUP from then on is a reload
    assert server.config is not None
    server.config.reloader = reloader  # ConfigService.Reload reloads as SIGHUP does
    if nestr.settings.server.resume_interrupted and server.workflows is not None:
        await resume_interrupted(server.workflows)  # before the address: they are underway
    host = listen.rpartition(":")[0]
    click.echo(f"listening on {host}:{server.port}")
    if metrics is not None:
        click.echo(f"metrics on {metrics.url}")
    try:
        await stop.wait()
    finally:
        await reloader.stop()
        await server.stop()
        if metrics is not None:
            await metrics.stop()


def _start_metrics(nestr: Session, streams: EventService) -> MetricsEndpoint | None:
    """The ``/metrics`` endpoint when ``metrics.listen`` is set; else nothing is imported."""
    listen = nestr.settings.metrics.listen
    if listen is None:
        return None
    from nestr.watchers.metrics_endpoint import MetricsEndpoint

    return MetricsEndpoint.start(nestr, listen=listen, streams=streams)
