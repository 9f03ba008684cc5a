"""``nestr webhooks list|test|deliveries|redeliver|enable|run`` (docs/webhooks.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from nestr.cli.context import local_session
from nestr.cli.render import json_option, print_json


@click.group()
def webhooks() -> None:
    """List, test and run the webhook endpoints of `webhooks:` in the config."""


@webhooks.command(name="list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> int:
    """Show each endpoint: URL, types, enabled or disabled (410), deliveries per status."""
    from nestr.watchers.webhooks.endpoints import views

    nestr = local_session(ctx, only_here=True)
    rows = views(nestr.db, nestr.settings.webhooks)
    if as_json:
        print_json({"webhooks": [row.to_dict() for row in rows]})
        return 0
    for row in rows:
        state = "enabled" if row.enabled else f"DISABLED ({row.disabled_reason})"
        types = ", ".join(row.types) or "all types"
        counts = "  ".join(f"{k} {v}" for k, v in row.counts.items())
        click.echo(f"{row.name}  {state}  {row.url}  [{types}]  {counts}")
    if not rows:
        click.echo("no webhooks configured (see docs/webhooks.md)")
    return 0


@webhooks.command()
@click.argument("name")
@json_option
@click.pass_context
def test(ctx: click.Context, name: str, as_json: bool) -> int:
    """Send one signed nestr.webhook.test event to endpoint NAME now; exit 1 unless 2xx."""
    from nestr.watchers.webhooks.endpoints import find, send_test

    result = send_test(find(local_session(ctx, only_here=True).settings.webhooks, name))
    if as_json:
        print_json(result.to_dict())
    elif result.ok:
        click.echo(f"{name}: HTTP {result.status} in {result.seconds:.3f} s ({result.webhook_id})")
    else:
        click.echo(f"{name}: {result.error}", err=True)
    return 0 if result.ok else 1


@webhooks.command()
@click.option("--endpoint", metavar="NAME", help="Only deliveries to endpoint NAME.")
@click.option("--status", metavar="STATUS", help="Only pending, delivered or failed ones.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, metavar="N", help="At most N (default 50)."
)
@json_option
@click.pass_context
def deliveries(
    ctx: click.Context, endpoint: str | None, status: str | None, limit: int, as_json: bool
) -> int:
    """List the latest deliveries of the outbox, newest first."""
    from nestr.watchers.webhooks.endpoints import check_status
    from nestr.watchers.webhooks.outbox import deliveries as latest

    wanted = check_status(status)
    rows = latest(
        local_session(ctx, only_here=True).db, endpoint=endpoint, status=wanted, limit=limit
    )
    if as_json:
        print_json({"deliveries": [row.to_dict() for row in rows]})
        return 0
    for row in rows:
        when = datetime.fromtimestamp(row.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        last = f"  last: {row.error or row.http_status}" if row.attempts else ""
        click.echo(
            f"{row.id:>6}  {when}  {row.endpoint}  seq {row.event_seq}  {row.event_type}"
            f"  {row.status} after {row.attempts} tries{last}"
        )
    if not rows:
        click.echo("no deliveries")
    return 0


@webhooks.command()
@click.argument("delivery_id", metavar="ID", type=int)
@json_option
@click.pass_context
def redeliver(ctx: click.Context, delivery_id: int, as_json: bool) -> int:
    """Queue delivery ID again (same webhook-id); a running dispatcher sends it."""
    from nestr.watchers.webhooks.endpoints import redeliver as queue_again

    nestr = local_session(ctx, only_here=True)
    audit = nestr.audited("webhooks.redeliver", {"delivery": delivery_id})
    with nestr.action(), audit.recording():
        delivery = queue_again(nestr.db, delivery_id)
        audit.ok(endpoint=delivery.endpoint, event_seq=delivery.event_seq)
    if as_json:
        print_json(delivery.to_dict())
    else:
        click.echo(f"delivery {delivery.id} to {delivery.endpoint} is pending again")
    return 0


@webhooks.command()
@click.argument("name")
@click.pass_context
def enable(ctx: click.Context, name: str) -> int:
    """Deliver to endpoint NAME again after it answered 410 Gone (its backlog first)."""
    from nestr.watchers.webhooks.endpoints import enable as enable_endpoint

    nestr = local_session(ctx, only_here=True)
    audit = nestr.audited("webhooks.enable", {"endpoint": name})
    with nestr.action(), audit.recording():
        changed = enable_endpoint(nestr.db, nestr.settings.webhooks, name)
        if not changed:
            audit.refused("not disabled")
    click.echo(f"{name} enabled" if changed else f"{name} was not disabled")
    return 0


@webhooks.command()
@click.pass_context
def run(ctx: click.Context) -> int:
    """Deliver events to the endpoints until SIGTERM or Ctrl-C (`nestr serve` does it too)."""
    import asyncio

    from nestr.errors import UsageError

    nestr = local_session(ctx, only_here=True)
    if not nestr.settings.webhooks:
        raise UsageError("no webhooks configured", hint="add endpoints under `webhooks:`")
    asyncio.run(_run(ctx))
    return 0


async def _run(ctx: click.Context) -> None:
    import asyncio
    import signal

    from nestr.watchers.webhooks.dispatcher import Dispatcher

    nestr = local_session(ctx, only_here=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    dispatcher = Dispatcher(
        nestr.settings.webhooks,
        state_dir=nestr.settings.state_dir,
        bus=nestr.bus,
        on_standby=_standby,
    )
    names = ", ".join(e.name for e in nestr.settings.webhooks)
    click.echo(f"delivering to {names}", err=True)
    await dispatcher.run(stop)


def _standby() -> None:
    click.echo("another nestr process delivers webhooks from this store: waiting", err=True)
