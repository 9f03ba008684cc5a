"""``nestr serve``: the gRPC server (docs/api.md) over this machine's store, until stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from nestr import runtime
from nestr.cli.context import app, local_session

if TYPE_CHECKING:
    import asyncio

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
    """Serve the event stream over gRPC until SIGTERM or Ctrl-C, then drain and exit 0.

    Every call but health checks needs `authorization: Bearer <server.token>` when a token
    is set; TLS with server.tls.cert/key, mTLS with server.tls.client_ca; a non-loopback
    address without a token or mTLS is refused.

    The config is reloaded on SIGHUP and when a config file changes: log level and format,
    server.token and server.stream.* apply at once (open streams go on); other settings need
    a restart.

    On start it resumes the runs of this host whose process died (server.resume_interrupted).
    It prunes the event log as events.retention says, at start and every interval.

    On SIGTERM or Ctrl-C it drains: health turns NOT_SERVING, calls that would start work are
    refused UNAVAILABLE, event streams end with the seq to resume from, the runs it executes
    are stopped and left interrupted (the next server resumes them), and calls in flight get
    server.drain_grace seconds to finish. A second signal ends the drain at once.

    With metrics.listen set it also serves Prometheus metrics at http://HOST:PORT/metrics.
    """
    import asyncio

    from nestr.server.corelog import import_grpc_quietly

    import_grpc_quietly()  # before anything imports grpc: its core's own lines are not JSON

    from nestr.config.live import LiveConfig
    from nestr.server.tls import server_tls
    from nestr.session.audit import Actor

    nestr = local_session(ctx)
    nestr.actor = Actor.local("server")  # what the server does of itself (resume, reload)
    context = app(ctx)
    settings = nestr.settings.server
    token = settings.token.get_secret_value() if settings.token is not None else None
    tls = server_tls(settings.tls, context.config().origins)
    live = LiveConfig(context.layer_inputs(), current=context.config())
    asyncio.run(_serve(nestr, listen or settings.listen, token, tls, live, context))
    return 0  # a drained server exits 0, however many runs it left to a resume


async def _serve(
    nestr: Session,
    listen: str,
    token: str | None,
    tls: ServerTls | None,
    live: LiveConfig,
    context: AppContext,
) -> None:
    """Start the server and its config reloader, print where it listens, serve until
    SIGTERM/SIGINT, then drain (a second signal hurries the drain)."""
    import asyncio
    import signal

    from nestr.server.app import start
    from nestr.server.recovery import resume_interrupted
    from nestr.server.reload import ConfigReloader
    from nestr.server.retention import Pruner
    from nestr.server.services.events import StreamLimits

    stop, hurry = asyncio.Event(), asyncio.Event()

    def signalled() -> None:
        (hurry if stop.is_set() else stop).set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, signalled)
    limits = StreamLimits.from_settings(nestr.settings.server.stream)
    server = await start(nestr, listen=listen, token=token, tls=tls, config=live, limits=limits)
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
        session=nestr,
        events=server.events,
    )
    reloader.start()  # before the address is printed: a SIGHUP from then on is a reload
    assert server.config is not None
    server.config.reloader = reloader  # ConfigService.Reload reloads as SIGHUP does
    if nestr.settings.server.resume_interrupted and server.workflows is not None:
        await resume_interrupted(server.workflows)  # before the address: they are underway
    pruner = Pruner(nestr, lambda: live.current.settings.events.retention)
    await pruner.start()  # events.retention: now, then every interval
    webhooks = _start_webhooks(nestr, stop)
    runtime.settle()  # what the server is made of stays out of every later collection
    host = listen.rpartition(":")[0]
    click.echo(f"listening on {host}:{server.port}")
    if metrics is not None:
        click.echo(f"metrics on {metrics.url}")
    try:
        await stop.wait()
    finally:
        await pruner.stop()
        await reloader.stop()
        await server.stop(nestr.settings.server.drain_grace, hurry=hurry)
        if metrics is not None:
            await metrics.stop()
        if webhooks is not None:
            await webhooks  # ends with `stop`; raises what made it fail earlier


def _start_webhooks(nestr: Session, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """Deliver events to `webhooks:` endpoints beside the server (docs/webhooks.md)."""
    if not nestr.settings.webhooks:
        return None
    import asyncio

    from nestr.watchers.webhooks.dispatcher import Dispatcher

    dispatcher = Dispatcher(
        nestr.settings.webhooks,
        state_dir=nestr.settings.state_dir,
        bus=nestr.bus,
        on_standby=lambda: click.echo(
            "another nestr process delivers webhooks from this store: waiting", err=True
        ),
    )
    return asyncio.create_task(dispatcher.run(stop))


def _start_metrics(nestr: Session, streams: EventService) -> MetricsEndpoint | None:
    """The ``/metrics`` endpoint when ``metrics.listen`` is set; else nothing is imported."""
    listen = nestr.settings.metrics.listen
    if listen is None:
        return None
    from nestr.watchers.metrics_endpoint import MetricsEndpoint

    return MetricsEndpoint.start(nestr, listen=listen, streams=streams)
