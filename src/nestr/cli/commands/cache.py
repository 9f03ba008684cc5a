"""``nestr cache list|gc``: the mirror cache and which workspaces borrow from it."""

from __future__ import annotations

import click

from nestr.cli.context import local_session
from nestr.cli.render import json_option, print_json


@click.group()
def cache() -> None:
    """List and gc the mirror cache."""


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


@cache.command(name="list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> int:
    """List mirrors: URL, size, last fetch, and how many workspaces borrow from each."""
    nestr = local_session(ctx, only_here=True)
    settings, mirrors = nestr.settings, nestr.mirrors()
    if as_json:
        print_json(
            {"cache_dir": str(settings.cache_dir), "mirrors": [m.to_dict() for m in mirrors]}
        )
        return 0
    for m in mirrors:
        fetched = m.last_fetch.isoformat(timespec="seconds") if m.last_fetch else "never"
        click.echo(
            f"{m.path.name}  {m.url or '?'}  {_size(m.size)}  fetched {fetched}  "
            f"borrowed by {len(m.borrowers)}"
        )
    if not mirrors:
        click.echo(f"no mirrors in {settings.cache_dir}")
    return 0


@cache.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@json_option
@click.pass_context
def gc(ctx: click.Context, dry_run: bool, as_json: bool) -> int:
    """Remove mirrors that no registered workspace borrows from (never one in use)."""
    removals = local_session(ctx, only_here=True).gc_cache(dry_run=dry_run)
    if as_json:
        print_json({"dry_run": dry_run, "mirrors": [r.to_dict() for r in removals]})
        return 0
    for r in removals:
        verb = ("would remove" if dry_run else "removed") if r.removed else "kept"
        why = f" ({r.reason})" if r.reason and not r.removed else ""
        click.echo(f"{verb:<13}{r.path.name}  {r.url or '?'}  {_size(r.size)}{why}")
    if not removals:
        click.echo("no mirrors to consider")
    return 0
