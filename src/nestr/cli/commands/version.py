"""``nestr version``."""

from __future__ import annotations

import platform

import click

from nestr import __version__
from nestr.cli.render import json_option, print_json


@click.command()
@json_option
def version(as_json: bool) -> int:
    """Show nestr, Python and git versions."""
    from nestr.git.runner import git_version

    info = {"nestr": __version__, "python": platform.python_version(), "git": git_version()}
    if as_json:
        print_json(info)
    else:
        for name, value in info.items():
            click.echo(f"{name:<7}{value or 'not found'}")
    return 0
