"""``nestr workspace list|rm|gc``: the workspaces registered on this machine."""

from __future__ import annotations

import asyncio

import click

from nestr.cli.context import local_session, session
from nestr.cli.render import json_option, print_json


@click.group()
def workspace() -> None:
    """List, remove and gc workspaces."""


@workspace.command(name="list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> int:
    """List registered workspaces (persistent and ephemeral)."""
    rows = session(ctx).listed_workspaces()
    if as_json:
        print_json({"workspaces": rows})
        return 0
    for row in rows:
        if row["expires"]:
            kind = "expired" if row["expired"] else f"expires {row['expires'][:19]}"
        else:
            kind = "persistent"
        missing = "" if row["exists"] else "  (directory missing)"
        click.echo(f"{row['id']}  {kind:<28} {row['root']}{missing}")
    if not rows:
        click.echo("no workspaces registered")
    return 0


@workspace.command()
@click.argument("target", metavar="ID|PATH")
@click.option(
    "--force", is_flag=True, help="Remove even if repos hold uncommitted or unpushed work."
)
@json_option
@click.pass_context
def rm(ctx: click.Context, target: str, force: bool, as_json: bool) -> int:
    """Remove a workspace directory and its registration."""
    removal = asyncio.run(session(ctx).remove_workspace(target, force=force))
    if as_json:
        print_json(removal.to_dict())
    elif removal.removed:
        click.echo(f"removed {removal.root}")
    else:
        click.echo(f"kept {removal.root}: it holds local work", err=True)
        for reason in removal.reasons:
            click.echo(f"  {reason}", err=True)
        click.echo("hint: push or commit it, or pass --force", err=True)
    return 0 if removal.removed else 1


@workspace.command()
@click.option("--force", is_flag=True, help="Remove expired workspaces even if they hold work.")
@json_option
@click.pass_context
def gc(ctx: click.Context, force: bool, as_json: bool) -> int:
    """Remove expired workspaces; report what was kept and why."""
    removals = asyncio.run(local_session(ctx, only_here=True).gc_workspaces(force=force))
    if as_json:
        print_json({"workspaces": [r.to_dict() for r in removals]})
        return 0
    for removal in removals:
        verb = "removed" if removal.removed else "kept"
        why = f" ({'; '.join(removal.reasons)})" if removal.reasons else ""
        click.echo(f"{verb:<8}{removal.id}  {removal.root}{why}")
    if not removals:
        click.echo("no workspaces registered")
    return 0
