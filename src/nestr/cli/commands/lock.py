"""``nestr lock``: pin every repo's revision to a commit in nestr.lock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from nestr.cli.context import session
from nestr.cli.options import jobs_option, manifest_option
from nestr.cli.render import json_option, print_json


@click.command()
@manifest_option
@jobs_option
@click.option("--offline", is_flag=True, help="Resolve from the cache only; never fetch.")
@json_option
@click.pass_context
def lock(
    ctx: click.Context, manifest_path: Path | None, jobs: int | None, offline: bool, as_json: bool
) -> int:
    """Resolve every repo's revision to a commit and write nestr.lock beside the manifest."""
    result = asyncio.run(session(ctx).lock(manifest=manifest_path, jobs=jobs, offline=offline))
    if as_json:
        print_json(result.to_dict())
    elif result.ok:
        repos = sorted(result.lock.repos.items())
        name_width = max((len(name) for name, _ in repos), default=0)
        rev_width = max((len(repo.revision) for _, repo in repos), default=0)
        for name, repo in repos:
            click.echo(f"{name:<{name_width}}  {repo.revision:<{rev_width}}  {repo.commit[:12]}")
        click.echo(f"wrote {result.path} ({len(result.lock.repos)} repos)")
    else:
        for failure in result.failures:
            click.echo(f"{failure.name}: {failure.message}", err=True)
            if failure.hint:
                click.echo(f"  hint: {failure.hint}", err=True)
        click.echo(f"nestr.lock not written: {len(result.failures)} repo(s) failed", err=True)
    return 0 if result.ok else 1
