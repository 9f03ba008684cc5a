"""What an operation acts on, resolved before it starts: faces show progress sized by it.

A face asks the session for a target (which workspace, manifest, repos or workflow), sets up
its display from it (a bar of ``len(repos)``, a column as wide as the longest repo name, the
steps of a workflow), then hands the target to the operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nestr.manifest.model import Manifest, RepoSpec
    from nestr.workflow.model import Workflow
    from nestr.workspace.record import Workspace


@dataclass(frozen=True)
class Target:
    """A workspace, the manifest it is read with and the selected repos (manifest order)."""

    workspace: Workspace
    manifest: Manifest
    repos: list[RepoSpec]
    groups: tuple[str, ...] = ()  # as asked: operations that select again get the same repos
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class AssemblyTarget:
    """Where to assemble which repos of which manifest (``workspace_id``: a new ephemeral
    workspace's id)."""

    manifest: Manifest
    root: Path
    repos: list[RepoSpec]
    groups: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    workspace_id: str | None = None
    ephemeral: bool = False


@dataclass(frozen=True)
class RunTarget:
    """A loaded workflow, its manifest, the workspace its steps run in (None: the manifest's
    directory) and its inputs as given (strings or typed values)."""

    workflow: Workflow
    manifest: Manifest
    root: Path | None
    inputs: Mapping[str, Any] = field(default_factory=dict)
