"""``nestr config show|validate``."""

from __future__ import annotations

import click

from nestr.cli.context import app
from nestr.cli.render import json_option, print_json


@click.group()
def config() -> None:
    """Show and validate the configuration."""


@config.command()
@click.option("--origin", is_flag=True, help="Show where each value came from.")
@json_option
@click.pass_context
def show(ctx: click.Context, origin: bool, as_json: bool) -> int:
    """Print every setting in force (secrets masked)."""
    loaded = app(ctx).config()
    values = loaded.values()
    origins = {key: str(loaded.origins[key]) for key in values}
    if as_json:
        print_json(
            {"settings": values, "origins": origins, "files": [str(f) for f in loaded.files]}
        )
        return 0
    width = max(len(o) for o in origins.values()) if origin else 0
    for key, value in values.items():
        shown = "(unset)" if value is None else value
        line = f"{key} = {shown}"
        click.echo(f"{origins[key]:<{width}}  {line}" if origin else line)
    return 0


@config.command()
@json_option
@click.pass_context
def validate(ctx: click.Context, as_json: bool) -> int:
    """Check every config layer; exit 2 with the location of the first problem."""
    loaded = app(ctx).config()
    if as_json:
        print_json({"valid": True, "files": [str(f) for f in loaded.files]})
    else:
        files = ", ".join(str(f) for f in loaded.files) or "no config files, defaults only"
        click.echo(f"config is valid ({files})")
    return 0
