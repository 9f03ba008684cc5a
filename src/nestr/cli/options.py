"""Options shared by commands: ``-m MANIFEST``, ``-w WORKSPACE``, repo selectors, ``-j``.

Resolution happens in the functions below so every command finds manifests and workspaces the
same way. Commands that read a manifest: ``-m``, else ``nestr.yaml`` found upward from the
working directory, else the manifest of the enclosing workspace. Commands that act on a
workspace: ``-w``, else the workspace containing the working directory, and ``-m``, else the
manifest that workspace was assembled from.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from nestr.cli.completion import complete_group_names, complete_repo_names

if TYPE_CHECKING:
    from nestr.manifest.model import Manifest
    from nestr.workspace.record import Workspace

MANIFEST_FILE = "nestr.yaml"

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


def find_manifest_path(start: Path) -> Path | None:
    """The nearest ``nestr.yaml`` in ``start`` or a parent directory."""
    for directory in (start, *start.parents):
        candidate = directory / MANIFEST_FILE
        if candidate.is_file():
            return candidate
    return None


def resolve_manifest_path(manifest_path: Path | None, cwd: Path) -> Path:
    """Explicit ``-m``, else nestr.yaml upward, else the enclosing workspace's manifest."""
    from nestr.errors import UsageError

    if manifest_path is not None:
        return (cwd / manifest_path).resolve()
    found = find_manifest_path(cwd)
    if found is not None:
        return found.resolve()
    try:
        from nestr.workspace.record import find_workspace

        return find_workspace(cwd).manifest_path
    except UsageError:
        pass
    raise UsageError(
        f"no {MANIFEST_FILE} found in {cwd} or its parents",
        hint="pass -m FILE, or run nestr where a nestr.yaml is",
    )


def load_manifest_for(
    manifest_path: Path | None, cwd: Path, *, repos_only: bool = False
) -> Manifest:
    """Resolve and load the manifest a command should read.

    ``repos_only``: the caller reads only the repos, which may then come from the input cache
    (:func:`nestr.manifest.cache.load_manifest_repos`): no ``workflows`` or ``sync`` sections.
    """
    path = resolve_manifest_path(manifest_path, cwd)
    if repos_only:
        from nestr.manifest.cache import load_manifest_repos

        return load_manifest_repos(path)
    from nestr.manifest.loader import load_manifest

    return load_manifest(path)


def resolve_workspace(workspace_dir: Path | None, cwd: Path) -> Workspace:
    """Explicit ``-w``, else the workspace containing the working directory."""
    from nestr.workspace.record import find_workspace, open_workspace

    if workspace_dir is not None:
        return open_workspace((cwd / workspace_dir).resolve())
    return find_workspace(cwd)


def workspace_and_manifest(
    workspace_dir: Path | None, manifest_path: Path | None, cwd: Path, *, repos_only: bool = False
) -> tuple[Workspace, Manifest]:
    """For commands that act on a workspace: it, and ``-m`` or the manifest it records.

    ``repos_only``: the caller reads only the repos, which may then come from the input cache
    (:func:`nestr.manifest.cache.load_manifest_repos`): no ``workflows`` or ``sync`` sections.
    """
    workspace = resolve_workspace(workspace_dir, cwd)
    path = (cwd / manifest_path).resolve() if manifest_path else workspace.manifest_path
    if repos_only:
        from nestr.manifest.cache import load_manifest_repos

        return workspace, load_manifest_repos(path)
    from nestr.manifest.loader import load_manifest

    return workspace, load_manifest(path)
