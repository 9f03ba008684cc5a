"""``nestr graph WORKFLOW``: draw a workflow's DAG as mermaid, Graphviz dot or text."""

from __future__ import annotations

from pathlib import Path

import click

from nestr.cli.completion import complete_workflow_names
from nestr.cli.context import local_session
from nestr.cli.options import manifest_option


@click.command()
@click.argument("workflow", shell_complete=complete_workflow_names)
@manifest_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "text"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.pass_context
def graph(ctx: click.Context, workflow: str, manifest_path: Path | None, fmt: str) -> int:
    """Print the DAG of WORKFLOW (steps and their needs)."""
    from nestr.workflow import graph as drawing
    from nestr.workflow.loading import load_workflow

    session = local_session(ctx)
    manifest = session.manifest(manifest=manifest_path)
    item = load_workflow(manifest, workflow, step_types=session.steps)
    render = {"mermaid": drawing.to_mermaid, "dot": drawing.to_dot, "text": drawing.to_text}[fmt]
    click.echo(render(item), nl=False)
    return 0
