"""``nestr run WORKFLOW``: run a workflow of the manifest, live, recorded in the store."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from nestr.cli.commands._runview import print_summary, watching
from nestr.cli.completion import complete_workflow_names
from nestr.cli.context import app
from nestr.cli.options import jobs_option, manifest_option, workspace_option
from nestr.cli.render import json_option, print_json

if TYPE_CHECKING:
    from nestr.manifest.model import Manifest
    from nestr.workflow.executor import RunResult

T = TypeVar("T")


@click.command()
@click.argument("workflow", shell_complete=complete_workflow_names)
@manifest_option
@workspace_option
@click.option(
    "--var", "variables", multiple=True, metavar="NAME=VALUE", help="Set an input (repeatable)."
)
@jobs_option
@json_option
@click.pass_context
def run(
    ctx: click.Context,
    workflow: str,
    manifest_path: Path | None,
    workspace_dir: Path | None,
    variables: tuple[str, ...],
    jobs: int | None,
    as_json: bool,
) -> int:
    """Run WORKFLOW; exit 0 if it succeeded, 1 if it failed, 130 if cancelled."""
    from nestr.events import EventBus
    from nestr.store.eventlog import open_event_log
    from nestr.workflow.inputs import parse_vars
    from nestr.workflow.loading import load_workflow
    from nestr.workflow.runs import run_workflow

    context = app(ctx)
    settings = context.config().settings
    manifest, root = _manifest_and_root(manifest_path, workspace_dir, context.cwd)
    values = parse_vars(variables)
    definition = load_workflow(manifest, workflow)
    log = open_event_log(settings.state_dir)
    bus = EventBus(sink=log)
    try:
        with watching(bus, workflow, definition):
            result = run_cancellable(
                lambda cancel: run_workflow(
                    definition,
                    manifest=manifest,
                    state_dir=settings.state_dir,
                    inputs=values,
                    workspace_root=root,
                    jobs=jobs or settings.jobs,
                    bus=bus,
                    cancel=cancel,
                )
            )
    finally:
        log.close()
    report(result, settings.state_dir, as_json=as_json)
    return result.exit_code


def _manifest_and_root(
    manifest_path: Path | None, workspace_dir: Path | None, cwd: Path
) -> tuple[Manifest, Path | None]:
    """-m or the workspace's manifest; -w or the enclosing workspace, if any."""
    from nestr.cli.options import load_manifest_for, resolve_workspace
    from nestr.errors import UsageError
    from nestr.manifest.loader import load_manifest

    try:
        workspace = resolve_workspace(workspace_dir, cwd)
    except UsageError:
        if workspace_dir is not None:
            raise
        return load_manifest_for(manifest_path, cwd), None
    if manifest_path is None:
        return load_manifest(workspace.manifest_path), workspace.root
    return load_manifest_for(manifest_path, cwd), workspace.root


def run_cancellable(start: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run ``start(cancel)`` on a new loop; Ctrl-C and SIGTERM set ``cancel``."""

    async def main() -> T:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, cancel.set)
        try:
            return await start(cancel)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(main())


def report(result: RunResult, state_dir: Path, *, as_json: bool) -> None:
    """Print the result: JSON, or a summary with the output tail of failed steps."""
    if as_json:
        print_json(result.to_dict())
        return
    print_summary(result, _tails(result, state_dir))


def _tails(result: RunResult, state_dir: Path) -> dict[str, str]:
    from nestr.store import RunStore, open_database

    failed = {s.key for s in result.steps if s.status == "failed"}
    if not failed:
        return {}
    tails: dict[str, str] = {}
    with open_database(state_dir) as db:
        for record in RunStore(db).logs(result.run_id):
            if record.key in failed:
                lines = (tails.get(record.key, "") + record.text).rstrip("\n").splitlines()
                tails[record.key] = "\n".join(lines[-10:])
    return tails
