"""Which manifest and which workspace an action works on: one rule for every face.

The CLI, and later the server and the TUI, hand over what the user named (``-m FILE``,
``-w DIR``, the working directory) and get back the same answer:

- an action that reads a manifest (``manifest``, ``lock``, ``workflow``, ``graph``,
  ``assemble``): ``-m``; else ``nestr.yaml`` found upward; else the manifest of the enclosing
  workspace (:func:`manifest_path`);
- an action on a workspace (``status``, ``foreach``, ``sync``): ``-w``, else the enclosing
  workspace, else an error; ``-m``, else the manifest that workspace records (:func:`locate`);
- an action that may use a workspace (``run``): as above when there is one (``-w`` or the
  enclosing one), else no workspace and the manifest as a reader finds it;
- where to assemble: ``-w``; else a new directory under the state dir with ``--ephemeral``; else
  the enclosing workspace; else the manifest's directory (:func:`assembly_root`).

Paths the user named are relative to the working directory. Shell completion asks
:func:`manifest_path` with the ``-w`` typed so far, so it suggests names of the manifest the
command would read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nestr.errors import UsageError
from nestr.manifest.paths import MANIFEST_FILE, find_manifest_path
from nestr.workspace.record import Workspace, find_workspace, open_workspace


@dataclass(frozen=True)
class Located:
    """The manifest file an action reads and the workspace it acts on (None: no workspace)."""

    manifest_path: Path
    workspace: Workspace | None


def manifest_path(cwd: Path, manifest: Path | None = None, workspace: Path | None = None) -> Path:
    """``manifest``; else the one ``workspace`` records; else ``nestr.yaml`` found upward from
    ``cwd``; else the manifest of the workspace containing ``cwd``."""
    if manifest is not None:
        return (cwd / manifest).resolve()
    if workspace is not None:
        return open_workspace((cwd / workspace).resolve()).manifest_path
    found = find_manifest_path(cwd)
    if found is not None:
        return found.resolve()
    try:
        return find_workspace(cwd).manifest_path
    except UsageError:
        pass
    raise UsageError(
        f"no {MANIFEST_FILE} found in {cwd} or its parents",
        hint="pass -m FILE, or run nestr where a nestr.yaml is",
    )


def workspace_at(
    cwd: Path, workspace: Path | None = None, *, required: bool = True
) -> Workspace | None:
    """``workspace`` (it must be one); else the workspace containing ``cwd``; else an error, or
    None when not ``required``."""
    if workspace is not None:
        return open_workspace((cwd / workspace).resolve())
    try:
        return find_workspace(cwd)
    except UsageError:
        if required:
            raise
        return None


def locate(
    cwd: Path,
    *,
    manifest: Path | None = None,
    workspace: Path | None = None,
    workspace_required: bool = True,
) -> Located:
    """For actions on a workspace: it, and ``manifest`` or the manifest it records.

    Without ``workspace_required`` an action may run without one (``run``): the manifest is
    then found as :func:`manifest_path` finds it.
    """
    found = workspace_at(cwd, workspace, required=workspace_required)
    if found is None:
        return Located(manifest_path(cwd, manifest), None)
    path = (cwd / manifest).resolve() if manifest is not None else found.manifest_path
    return Located(path, found)


def assembly_root(
    cwd: Path,
    *,
    manifest_root: Path,
    workspace: Path | None,
    ephemeral: bool,
    state_dir: Path,
) -> tuple[Path, str | None]:
    """Where to assemble and, for a new ephemeral workspace, its id: ``workspace``; else a new
    directory under ``state_dir``; else the enclosing workspace; else the manifest's directory."""
    from nestr.workspace.registry import ephemeral_root

    if workspace is not None and ephemeral:
        raise UsageError("--ephemeral and -w cannot be used together")
    if workspace is not None:
        return (cwd / workspace).resolve(), None
    if ephemeral:
        from nestr.workspace.record import new_workspace_id

        wid = new_workspace_id()
        return ephemeral_root(state_dir, wid), wid
    enclosing = workspace_at(cwd, required=False)
    return (enclosing.root if enclosing is not None else manifest_root), None
