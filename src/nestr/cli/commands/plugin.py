"""``nestr plugin list|check``: the step plugins nestr finds, and a plugin's conformance check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from nestr.cli.context import local_session
from nestr.cli.render import json_option, print_json
from nestr.errors import UsageError


@click.group()
def plugin() -> None:
    """List step plugins and check that a plugin speaks the protocol."""


@plugin.command("list")
@json_option
@click.pass_context
def list_plugins(ctx: click.Context, as_json: bool) -> int:
    """The plugins found (the ``plugins:`` setting, ``nestr.plugins`` entry points,
    ``nestr-plugin-*`` on PATH); none is started."""
    from nestr.plugins.host import discover

    settings = local_session(ctx).settings
    found = discover({p.name: p.command for p in settings.plugins})
    if as_json:
        print_json(
            [{"name": p.name, "command": list(p.argv), "origin": p.origin} for p in found.values()]
        )
        return 0
    for item in sorted(found.values(), key=lambda p: p.name):
        click.echo(f"{item.name}  {' '.join(item.argv)}  ({item.origin})")
    if not found:
        click.echo("no plugins found")
    return 0


def _mapping(text: str | None, flag: str) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: not JSON: {exc}", hint=f'{flag} \'{{"text": "hi"}}\'') from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag} must be a JSON object (a step's with:)")
    return value


@plugin.command(context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--step", "step", help="Step type to execute (default: the first one offered).")
@click.option("--with", "with_json", help="The with: of that step, as JSON (default {}).")
@click.option("--slow", help="A step type that runs until cancelled, to check Cancel mid-run.")
@click.option("--slow-with", "slow_json", help="The with: of the slow step, as JSON.")
@json_option
def check(
    command: tuple[str, ...],
    step: str | None,
    with_json: str | None,
    slow: str | None,
    slow_json: str | None,
    as_json: bool,
) -> int:
    """Run the plugin COMMAND through its whole life and report what it gets wrong (exit 1).

    Handshake, the secret, health, Describe, Validate (good and bad), Execute, Cancel and the
    shutdown on SIGTERM; see docs/plugins.md.
    """
    from nestr.plugins.check import CheckOptions, check_plugin

    options = CheckOptions(
        step, _mapping(with_json, "--with"), slow, _mapping(slow_json, "--slow-with")
    )
    report = check_plugin(command, cwd=Path.cwd(), options=options)
    if as_json:
        print_json(report.to_dict())
    else:
        for found in report.findings:
            mark = "✓" if found.ok else "✗"
            click.echo(f"{mark} {found.name}: {found.detail}".rstrip(": "))
        failed = sum(1 for f in report.findings if not f.ok)
        click.echo("conforms" if report.ok else f"{failed} check(s) failed")
    return 0 if report.ok else 1
