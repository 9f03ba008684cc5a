"""``nestr``: the root command, its global options and the top-level error handler.

This module is imported on every start, so it imports nothing heavy: commands live in
``nestr.cli.commands.*`` and load only when they run (see ``LazyGroup``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from nestr import __version__
from nestr.cli.context import AppContext
from nestr.cli.errors import handle_errors
from nestr.cli.lazy import LazyGroup

# name -> (module:attribute, one-line help shown by `nestr --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "version": ("nestr.cli.commands.version:version", "Show nestr, Python and git versions."),
    "config": ("nestr.cli.commands.config:config", "Show and validate the configuration."),
    "demo": ("nestr.cli.commands.demo:demo", "Build a sample product and show what nestr does."),
    "manifest": (
        "nestr.cli.commands.manifest:manifest",
        "Validate, show, import and export manifests.",
    ),
    "assemble": (
        "nestr.cli.commands.assemble:assemble",
        "Create or update a workspace from the manifest.",
    ),
    "lock": (
        "nestr.cli.commands.lock:lock",
        "Pin every repo's revision to a commit in nestr.lock.",
    ),
    "status": (
        "nestr.cli.commands.status:status",
        "Show branch, commit, changes and drift of each repo.",
    ),
    "foreach": (
        "nestr.cli.commands.foreach:foreach",
        "Run a command in each repo of the workspace.",
    ),
    "workspace": ("nestr.cli.commands.workspace:workspace", "List, remove and gc workspaces."),
    "cache": ("nestr.cli.commands.cache:cache", "List and gc the mirror cache."),
    "workflow": ("nestr.cli.commands.workflow:workflow", "List and validate workflows."),
    "graph": ("nestr.cli.commands.graph:graph", "Draw a workflow's DAG (mermaid, dot, text)."),
    "run": ("nestr.cli.commands.run:run", "Run a workflow."),
    "runs": ("nestr.cli.commands.runs:runs", "List, show, follow, cancel and resume runs."),
    "events": ("nestr.cli.commands.events:events", "Print the event log, and follow it live."),
    "sync": ("nestr.cli.commands.sync:sync", "Plan and apply shared files across repos."),
    "serve": ("nestr.cli.commands.serve:serve", "Serve the event stream over gRPC."),
    "audit": ("nestr.cli.commands.audit:audit", "List and verify the audit trail."),
    "webhooks": (
        "nestr.cli.commands.webhooks:webhooks",
        "List, test and run the webhook endpoints; show deliveries.",
    ),
    "obsidian": ("nestr.cli.commands.obsidian:obsidian", "Write runs into an Obsidian vault."),
    "plugin": ("nestr.cli.commands.plugin:plugin", "List step plugins; check one's protocol."),
    "metrics": ("nestr.cli.commands.metrics:metrics", "Serve Prometheus metrics of the event log."),
    "ui": ("nestr.cli.commands.ui:ui", "Watch and steer runs, workspaces and syncs live."),
    "worker": ("nestr.cli.commands.worker:worker", "Run workflows and steps for Temporal."),
}

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"nestr {__version__}")
        ctx.exit(0)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings=CONTEXT_SETTINGS,
    help="Assemble multi-repo workspaces, sync shared files, run DAG workflows, watch it live.",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print the version and exit.",
)
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run as if nestr was started in DIR.",
    metavar="DIR",
)
@click.option(
    "--config",
    "config_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Extra config file (repeatable; later files win).",
)
@click.option(
    "--env", "env_name", metavar="NAME", help="Also load nestr.NAME.yaml beside each config file."
)
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set a config value (repeatable)."
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"]),
    help="Lowest level logged (overrides log.level).",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    help="Log as console lines or JSON lines (overrides log.format).",
)
@click.option("--debug", is_flag=True, help="Debug logging, and tracebacks on errors.")
@click.option(
    "--server",
    metavar="ADDR",
    help="Send the command to the nestr server at ADDR (host:port; overrides server.address).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    directory: Path | None,
    config_files: tuple[Path, ...],
    env_name: str | None,
    sets: tuple[str, ...],
    log_level: str | None,
    log_format: str | None,
    debug: bool,
    server: str | None,
) -> None:
    from nestr.observability.context import correlation

    ctx.with_resource(correlation())  # one id for every event, log line and child of this call
    if directory is not None:
        try:
            os.chdir(directory)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot enter {directory}: {exc.strerror}", param_hint="-C"
            ) from None
    ctx.obj = AppContext(
        cwd=Path.cwd(),
        config_files=config_files,
        env_name=env_name,
        sets=sets,
        log_level=log_level,
        log_format=log_format,
        debug=debug or os.environ.get("NESTR_DEBUG", "") not in {"", "0"},
        server=server,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: run the CLI and map every outcome to an exit code.

    Started as a process (no ``argv``), nestr tunes the garbage collector for its work first
    (:mod:`nestr.runtime`); called with ``argv`` from other Python code, it leaves the
    caller's collector alone."""
    if argv is None:
        from nestr import runtime

        runtime.tune()
    args = list(sys.argv[1:] if argv is None else argv)
    return handle_errors(
        lambda: cli.main(args=args, prog_name="nestr", standalone_mode=False), args
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
