"""``nestr events``: print the durable event log, and follow it as other processes append."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from nestr.cli.context import session
from nestr.cli.render import json_option

if TYPE_CHECKING:
    from nestr.events import Event


@click.command()
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
    """Print events oldest first; --json prints one JSON object per line."""
    from nestr.cli.errors import exit_on_sigterm, run_until_terminated

    nestr = session(ctx)

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
