"""``nestr events``: print the durable event log, and follow it as other processes append;
``nestr events prune``: delete what ``events.retention`` no longer keeps."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from nestr.cli.context import local_session, session
from nestr.cli.render import json_option, print_json

if TYPE_CHECKING:
    from nestr.events import Event


@click.group(invoke_without_command=True)
@click.option(
    "--since", type=click.IntRange(min=0), default=0, metavar="SEQ", help="Only events after SEQ."
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events (Ctrl-C stops).")
@click.option("--type", "type_prefix", metavar="PREFIX", help="Only types starting with PREFIX.")
@click.option("--run", "run_id", metavar="RUN", help="Only events of run RUN (id or prefix).")
@json_option
@click.pass_context
def events(
    ctx: click.Context,
    since: int,
    follow: bool,
    type_prefix: str | None,
    run_id: str | None,
    as_json: bool,
) -> int:
    """Print events oldest first; --json prints one JSON object per line.

    When events after SEQ were pruned (events.retention), a note on stderr says so.
    """
    from nestr.cli.errors import exit_on_sigterm, run_until_terminated

    if ctx.invoked_subcommand is not None:
        return 0
    nestr = session(ctx)
    _note_pruned(nestr.event_oldest(), since)

    async def follow_log() -> None:
        async for event in nestr.follow_events(since=since, type_prefix=type_prefix, run=run_id):
            _print(event, as_json)

    # --follow ends only when stopped: Ctrl-C exits 130 (interrupted), SIGTERM 143
    with exit_on_sigterm():
        if follow:
            run_until_terminated(follow_log())
        else:
            for event in nestr.events(since=since, type_prefix=type_prefix, run=run_id):
                _print(event, as_json)
    return 0


@events.command()
@json_option
@click.pass_context
def prune(ctx: click.Context, as_json: bool) -> int:
    """Delete the oldest events that events.retention no longer keeps (never the newest)."""
    nestr = local_session(ctx, only_here=True)
    retention = nestr.settings.events.retention
    if retention.max_age is None and retention.max_events is None:
        if as_json:
            print_json({"deleted": 0, "retention": False})
        else:
            click.echo("no retention set (events.retention.max_age, max_events): nothing pruned")
        return 0
    pruned = nestr.prune_events()
    if as_json:
        print_json({**pruned.to_dict(), "retention": True})
    else:
        click.echo(f"pruned {pruned.deleted} events; oldest kept: {pruned.oldest}")
    return 0


def _note_pruned(oldest: int, since: int) -> None:
    """Say on stderr that the events right after ``since`` are gone (the output starts later)."""
    if oldest > since + 1:
        click.echo(
            f"note: events {since + 1}–{oldest - 1} were pruned (events.retention); "
            f"starting at {oldest}",
            err=True,
        )


def _print(event: Event, as_json: bool) -> None:
    click.echo(event.to_json() if as_json else _line(event))


def _line(event: Event) -> str:
    when = event.time.strftime("%H:%M:%S.%f")[:-3]
    about = " ".join(
        part
        for part in (
            f"run={event.run_id}" if event.run_id else "",
            f"step={event.step}" if event.step else "",
            f"repo={event.repo}" if event.repo and not event.step else "",
        )
        if part
    )
    data = " ".join(f"{k}={_short(v)}" for k, v in event.data.items() if v not in (None, {}, ""))
    return f"{event.seq:>6} {when} {event.type} {about} {data}".rstrip()


def _short(value: object, limit: int = 60) -> str:
    text = str(value).replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"
