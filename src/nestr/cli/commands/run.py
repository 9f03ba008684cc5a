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
from nestr.cli.context import app, session
from nestr.cli.options import jobs_option, manifest_option, workspace_option
from nestr.cli.render import json_option, print_json

if TYPE_CHECKING:
    from nestr.cli.surface import Nestr
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
@click.option(
    "--executor",
    type=click.Choice(["local", "temporal"]),
    help="Where the run executes (default: the executor setting).",
)
@json_option
@click.pass_context
def run(
    ctx: click.Context,
    workflow: str,
    manifest_path: Path | None,
    workspace_dir: Path | None,
    variables: tuple[str, ...],
    jobs: int | None,
    executor: str | None,
    as_json: bool,
) -> int:
    """Run WORKFLOW; exit 0 if it succeeded, 1 if it failed, 130 if cancelled.

    With --executor temporal (or the executor setting) the run executes on the Temporal
    cluster of temporal.address, on its `nestr worker`s (docs/temporal.md)."""
    if executor is not None:
        use_executor(ctx, executor)
    nestr = session(ctx)
    target = nestr.run_target(
        workflow, manifest=manifest_path, workspace=workspace_dir, variables=variables
    )
    with watching(nestr.bus, workflow, target.workflow):
        result = run_cancellable(lambda cancel: nestr.run(target, jobs=jobs, cancel=cancel))
    report(result, nestr, as_json=as_json)
    return result.exit_code


def use_executor(ctx: click.Context, name: str) -> None:
    """``--executor NAME``: the ``executor`` setting of this command, as ``--set`` gives it."""
    context = app(ctx)
    if context._config is not None:
        raise click.UsageError("--executor must be read before the config is loaded")
    context.sets = (*context.sets, f"executor={name}")


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


def report(result: RunResult, nestr: Nestr, *, as_json: bool) -> None:
    """Print the result: JSON, or a summary with the output tail of failed steps."""
    if as_json:
        print_json(result.to_dict())
        return
    print_summary(result, nestr.queries.failed_tails(result))
