"""Options shared by commands: ``-m MANIFEST``, ``-w WORKSPACE``, repo selectors, ``-j``.

Commands only parse them: which manifest and workspace they lead to is decided by the session
(:mod:`nestr.workspace.locate`), the same way for every face.
"""

from __future__ import annotations

import re
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


_NUMBER = re.compile(r"\d{1,12}(?:\.\d{1,9})?")


def parse_duration_flag(text: str, *, flag: str) -> float:
    """Seconds of a duration flag: ``90s``, ``30m``, ``8h``, ``1h30m``, ``2d``, ``1w`` or plain
    seconds, the grammar of workflow durations (:mod:`nestr.workflow.durations`); positive."""
    from nestr.workflow.durations import parse_duration

    try:  # a flag is always text: a plain number there means seconds, as it always has
        seconds = parse_duration(float(text) if _NUMBER.fullmatch(text.strip()) else text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from None
    if seconds <= 0:
        raise click.BadParameter(f"a duration must be positive; got {text!r}", param_hint=flag)
    return seconds
