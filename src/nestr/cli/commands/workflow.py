"""``nestr workflow list|validate``: the workflows of the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nestr.cli.completion import complete_workflow_names
from nestr.cli.context import local_session
from nestr.cli.options import manifest_option
from nestr.cli.render import json_option, print_json

if TYPE_CHECKING:
    from nestr.workflow.model import Workflow


@click.group()
def workflow() -> None:
    """List and validate workflows."""


def summary(item: Workflow) -> dict[str, Any]:
    """The ``--json`` shape of one workflow in ``nestr workflow list``."""
    return {
        "name": item.name,
        "description": item.description,
        "source": str(item.source) if item.source else None,
        "inputs": [
            {"name": i.name, "type": i.type, "default": i.default, "required": i.required}
            for i in item.inputs
        ],
        "steps": [s.id for s in item.steps],
    }


@workflow.command("list")
@manifest_option
@json_option
@click.pass_context
def list_workflows(ctx: click.Context, manifest_path: Path | None, as_json: bool) -> int:
    """Every workflow of the manifest (and workflows/*.yaml beside it)."""
    from nestr.workflow.loading import load_workflows

    manifest = local_session(ctx).manifest(manifest=manifest_path)
    found = load_workflows(manifest)
    if as_json:
        print_json([summary(w) for w in found.values()])
        return 0
    width = max((len(n) for n in found), default=0)
    for name, item in found.items():
        click.echo(f"{name:<{width}}  {len(item.steps):>3} steps  {item.description}".rstrip())
    if not found:
        click.echo(f"no workflows in {manifest.path}")
    return 0


@workflow.command()
@click.argument("name", required=False, shell_complete=complete_workflow_names)
@manifest_option
@json_option
@click.pass_context
def validate(
    ctx: click.Context, name: str | None, manifest_path: Path | None, as_json: bool
) -> int:
    """Check one workflow (or all): exit 2 with file:line:col of every problem."""
    from nestr.checking import check_workflows
    from nestr.cli.problems import show, validate_with

    result = validate_with(
        lambda path: check_workflows(path, name),
        lambda: local_session(ctx).manifest_path(manifest=manifest_path),
    )
    names = ", ".join(result.workflows) or "none"
    summary = f"{len(result.workflows)} workflow(s) valid: {names}"
    return show(result, as_json=as_json, summary=summary)
