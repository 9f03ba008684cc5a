"""``nestr manifest validate|schema|show|import|export``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from nestr.cli.context import app, local_session
from nestr.cli.options import manifest_option
from nestr.cli.render import json_option, print_json

if TYPE_CHECKING:
    from nestr.manifest.conversion import Conversion
    from nestr.manifest.importers.westimports import ProjectFiles
    from nestr.manifest.model import Manifest

output_option = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write to FILE (atomically) instead of stdout.",
)
force_option = click.option("--force", is_flag=True, help="Overwrite an existing --output file.")


@click.group()
def manifest() -> None:
    """Validate, show, import and export manifests."""


@manifest.command()
@manifest_option
@json_option
@click.pass_context
def validate(ctx: click.Context, manifest_path: Path | None, as_json: bool) -> int:
    """Check the manifest, its imports, workflows and sync rules; exit 2 naming every problem."""
    from nestr.checking import check_manifest
    from nestr.cli.problems import show, validate_with

    result = validate_with(
        check_manifest, lambda: local_session(ctx).manifest_path(manifest=manifest_path)
    )
    parts = [f"{result.repos} repos ({result.active} active)"]
    if result.workflows:
        parts.append(f"{len(result.workflows)} workflow(s)")
    return show(result, as_json=as_json, summary="manifest is valid: " + ", ".join(parts))


@manifest.command()
def schema() -> int:
    """Print the JSON Schema of nestr.yaml (for editors; see docs/manifest.md)."""
    from nestr.manifest.schema import manifest_json_schema

    print_json(manifest_json_schema())
    return 0


@manifest.command()
@manifest_option
@json_option
@click.pass_context
def show(ctx: click.Context, manifest_path: Path | None, as_json: bool) -> int:
    """Show the resolved repos: defaults, imports, URL rewrites and group filter applied."""
    loaded = local_session(ctx).manifest(manifest=manifest_path)
    if as_json:
        print_json(loaded.to_dict())
        return 0
    header = ("NAME", "PATH", "URL", "REVISION", "GROUPS", "ACTIVE")
    rows = [
        (r.name, r.path, r.url, r.revision, ",".join(r.groups) or "-", "yes" if r.active else "no")
        for r in loaded.repos
    ]
    _table([header, *rows])
    return 0


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@manifest.command("import")
@click.option(
    "--from",
    "fmt",
    required=True,
    type=click.Choice(["west", "vcstool", "repo"]),
    help="Format of FILE.",
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@output_option
@force_option
@click.pass_context
def import_(ctx: click.Context, fmt: str, file: Path, output: Path | None, force: bool) -> int:
    """Translate a west, vcstool or repo manifest FILE into nestr.yaml."""
    from nestr.manifest.importers import import_file
    from nestr.manifest.loader import load_manifest_text
    from nestr.manifest.writer import dump_yaml

    cwd = app(ctx).cwd
    result = import_file(fmt, cwd / file, _project_files(ctx) if fmt == "west" else None)
    header = f"nestr manifest, translated by `nestr manifest import --from {fmt} {file.name}`"
    text = dump_yaml(result.data, header=header)
    target = cwd / (output or Path("nestr.yaml"))
    load_manifest_text(text, target)  # what we write must load: refuse it otherwise
    _emit(result, text, None if output is None else target, force=force)
    return 0


def _project_files(ctx: click.Context) -> ProjectFiles:
    """Reads west project imports through the mirror cache of this machine's settings."""
    return local_session(ctx).project_files()


@manifest.command("export")
@click.option(
    "--to",
    "fmt",
    required=True,
    type=click.Choice(["west", "vcstool", "repo"]),
    help="Target format.",
)
@click.option("--locked", is_flag=True, help="Use each repo's commit from nestr.lock as revision.")
@manifest_option
@output_option
@force_option
@click.pass_context
def export(
    ctx: click.Context,
    fmt: str,
    locked: bool,
    manifest_path: Path | None,
    output: Path | None,
    force: bool,
) -> int:
    """Translate the manifest into a west manifest, a vcstool .repos file or a repo XML."""
    from nestr.manifest.exporters import EXPORTERS
    from nestr.manifest.writer import dump_yaml

    cwd = app(ctx).cwd
    loaded = local_session(ctx).manifest(manifest=manifest_path)
    commits = _locked_commits(loaded) if locked else None
    result = EXPORTERS[fmt](loaded, commits)
    header = f"{fmt} manifest exported by `nestr manifest export` from {loaded.path.name}"
    if fmt == "repo":
        from nestr.manifest.repoexport import render_repo_xml

        text = render_repo_xml(result.data, header=header)
    else:
        text = dump_yaml(result.data, header=header)
    _emit(result, text, None if output is None else cwd / output, force=force)
    return 0


def _emit(result: Conversion, text: str, output: Path | None, *, force: bool) -> None:
    from nestr.manifest.writer import write_text_atomic

    for warning in result.warnings:
        click.echo(click.style("warning: ", fg="yellow") + warning, err=True)
    if output is None:
        click.echo(text, nl=False)
        return
    write_text_atomic(output, text, force=force)
    click.echo(f"wrote {output} ({len(result.warnings)} warnings)", err=True)


def _locked_commits(loaded: Manifest) -> dict[str, str]:
    """name → commit from the nestr.lock beside the manifest."""
    from nestr.errors import UsageError
    from nestr.workspace.lockfile import lock_path_for, read_lock

    path = lock_path_for(loaded)
    if not path.is_file():
        raise UsageError(f"{path} not found", hint="run `nestr lock` first, or drop --locked")
    return {name: repo.commit for name, repo in read_lock(path).repos.items()}
