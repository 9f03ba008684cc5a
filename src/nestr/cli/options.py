"""Options shared by commands: ``-m MANIFEST``, ``-w WORKSPACE``, repo selectors, ``-j``.

Commands only parse them: which manifest and workspace they lead to is decided by the session
(:mod:`nestr.workspace.locate`), the same way for every face.
"""

from __future__ import annotations

from pathlib import Path

import click

from nestr.cli.completion import complete_group_names, complete_repo_names

manifest_option = click.option(
    "-m",
    "--manifest",
    "manifest_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Manifest to read (default: the workspace's, or nestr.yaml found upward).",
)
workspace_option = click.option(
    "-w",
    "--workspace",
    "workspace_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Workspace to act on (default: the one containing the working directory).",
)
group_option = click.option(
    "-g",
    "--group",
    "groups",
    multiple=True,
    metavar="GROUP",
    help="Only repos in GROUP (repeatable).",
    shell_complete=complete_group_names,
)
repo_option = click.option(
    "--repo",
    "repo_names",
    multiple=True,
    metavar="NAME",
    help="Only the repo NAME (repeatable).",
    shell_complete=complete_repo_names,
)
jobs_option = click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel jobs (default: config jobs).",
)
