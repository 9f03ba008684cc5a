"""``nestr version``."""

from __future__ import annotations

import click

from nestr.cli.render import json_option, print_json


@click.command()
@json_option
def version(as_json: bool) -> int:
    """Show nestr, Python and git versions."""
    from nestr.session.environment import versions

    info = versions()
    if as_json:
        print_json(info)
    else:
        for name, value in info.items():
            click.echo(f"{name:<7}{value or 'not found'}")
    return 0
