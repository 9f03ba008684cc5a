"""``nestr obsidian``: write runs into an Obsidian vault, once or as they finish."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from nestr.cli.context import local_session
from nestr.cli.render import json_option, print_json

if TYPE_CHECKING:
    from nestr.bridges.obsidian.journal import Written
    from nestr.bridges.obsidian.vault import Vault
    from nestr.events.envelope import Event

_VAULT = click.option(
    "--vault",
    type=click.Path(file_okay=False, path_type=Path),
    help="The vault (default: obsidian.vault).",
)


@click.group()
def obsidian() -> None:
    """Write runs into an Obsidian vault: a note per run, per repo, and the daily note."""


@obsidian.command()
@click.argument("run")
@_VAULT
@json_option
@click.pass_context
def note(ctx: click.Context, run: str, vault: Path | None, as_json: bool) -> int:
    """Write run RUN (an id or a unique prefix) into the vault."""
    from nestr.bridges.obsidian.watch import layout_of, note_run, open_vault

    nestr = local_session(ctx, only_here=True)
    settings = nestr.settings.obsidian
    target = open_vault(settings, vault)
    _show(target, note_run(nestr.queries, target, layout_of(settings), run), as_json)
    return 0


@obsidian.command()
@_VAULT
@click.option(
    "--since",
    type=click.IntRange(min=0),
    default=None,
    metavar="SEQ",
    help="Also write the runs that finished after event SEQ (default: from now on).",
)
@click.option("--once", is_flag=True, help="Write the runs finished after SEQ, then stop.")
@json_option
@click.pass_context
def watch(
    ctx: click.Context, vault: Path | None, since: int | None, once: bool, as_json: bool
) -> int:
    """Write each run into the vault as it finishes (Ctrl-C stops).

    Runs started anywhere on this machine count: the watcher follows the event log that
    `nestr run` and `nestr serve` append to. A run that cannot be written is reported on
    stderr and the watcher goes on (with --once, it then exits 1).
    """
    from nestr.bridges.obsidian.watch import layout_of, note_finished, open_vault
    from nestr.cli.errors import exit_on_sigterm, run_until_terminated
    from nestr.errors import NestrError
    from nestr.events.catalog import RUN_FINISHED

    nestr = local_session(ctx, only_here=True)
    settings = nestr.settings.obsidian
    target, layout = open_vault(settings, vault), layout_of(settings)
    failed = 0

    def write(event: Event) -> None:
        nonlocal failed
        try:
            written = note_finished(nestr.queries, target, layout, event)
        except NestrError as exc:  # one run's notes: the others still get written
            failed += 1
            click.echo(f"nestr: run {event.run_id} not written: {exc.message}", err=True)
            return
        if written is not None:
            _show(target, written, as_json)

    async def follow() -> None:
        async for event in nestr.follow_events(since=since, type_prefix=RUN_FINISHED.name):
            write(event)

    with exit_on_sigterm():
        if once:
            for event in nestr.events(since=since or 0, type_prefix=RUN_FINISHED.name):
                write(event)
        else:
            run_until_terminated(follow())
    return 1 if failed else 0


def _show(vault: Vault, written: Written, as_json: bool) -> None:
    paths = {
        "run": str(written.run.relative_to(vault.root)),
        "repos": [str(p.relative_to(vault.root)) for p in written.repos],
        "daily": str(written.daily.relative_to(vault.root)),
    }
    if as_json:
        print_json(paths)
    else:
        click.echo(f"wrote {paths['run']} ({len(paths['repos'])} repo notes, {paths['daily']})")
