"""``nestr ui``: the live terminal UI over this machine's store, or a server (``--server``)."""

from __future__ import annotations

import sys

import click

from nestr.cli.context import app, local_session


@click.command()
@click.pass_context
def ui(ctx: click.Context) -> int:
    """Watch and steer runs, workspaces and syncs live (keys: ? for help, q to quit).

    Reads this machine's event log, or the server's stream with --server (or server.address),
    with the token and TLS of the config; it resumes from its cursor after a disconnect.
    """
    from nestr.errors import UsageError

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("nestr ui needs a terminal", hint="run it in a terminal, not a pipe")
    from nestr.tui.source import LocalSource, RemoteSource, Source
    from nestr.tui.state import FIRST_PAGE

    context = app(ctx)
    address = context.config().settings.server.address
    source: Source
    if address:
        source = RemoteSource(context.config().settings, address, context.cwd)
    else:
        source = LocalSource(local_session(ctx))
    first_page = source.runs_soon(FIRST_PAGE)  # read while Textual loads: the first frame has rows
    from nestr.tui.app import NestrApp

    try:
        NestrApp(source, first_page=first_page).run()
    finally:
        source.close()
    return 0
