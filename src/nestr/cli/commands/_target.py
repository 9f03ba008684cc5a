"""Which workspace, manifest and repos a per-repo command (status, foreach) acts on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from nestr.cli.context import app
from nestr.cli.options import workspace_and_manifest
from nestr.errors import UsageError, did_you_mean
from nestr.manifest.model import Manifest, RepoSpec
from nestr.workspace.record import Workspace


@dataclass(frozen=True)
class Target:
    """The workspace, its manifest and the selected repos (manifest order)."""

    workspace: Workspace
    manifest: Manifest
    repos: list[RepoSpec]


def resolve_target(
    ctx: click.Context,
    *,
    manifest_path: Path | None,
    workspace_dir: Path | None,
    groups: Sequence[str],
    repo_names: Sequence[str],
) -> Target:
    """``-w`` (or the enclosing workspace), ``-m`` (or the manifest the workspace records), and
    the repos chosen by ``-g``/``--repo`` (all active repos when neither is given)."""
    workspace, manifest = workspace_and_manifest(
        workspace_dir, manifest_path, app(ctx).cwd, repos_only=True
    )
    return Target(workspace, manifest, select_repos(manifest, groups, repo_names))


def select_repos(
    manifest: Manifest, groups: Sequence[str], repo_names: Sequence[str]
) -> list[RepoSpec]:
    """``manifest.select`` with unknown names turned into a usage error with a suggestion."""
    known = [spec.name for spec in manifest.repos]
    for name in repo_names:
        if name not in known:
            raise UsageError(
                f"--repo {name}: no repo of that name in {manifest.path}",
                hint=did_you_mean(name, known) or f"known repos: {', '.join(known)}",
            )
    known_groups = {group for spec in manifest.repos for group in spec.groups}
    for group in groups:
        if group not in known_groups:
            raise UsageError(
                f"--group {group}: no repo of {manifest.path} is in that group",
                hint=did_you_mean(group, sorted(known_groups))
                or f"known groups: {', '.join(sorted(known_groups)) or 'none'}",
            )
    return manifest.select(groups=groups, names=repo_names)
