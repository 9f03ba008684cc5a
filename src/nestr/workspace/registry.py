"""The registry of workspaces on this machine: one JSON file per workspace.

``<state_dir>/workspaces/registry/<id>.json`` records every assembled workspace, persistent or
ephemeral, with the repo paths it holds, so ``cache gc`` can tell which mirrors are borrowed and
``workspace gc`` which workspaces have expired. One file per workspace keeps concurrent
assemblies from overwriting each other; each is written atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nestr.errors import NotFound
from nestr.workspace.record import Workspace

WORKSPACES_DIR = "workspaces"
REGISTRY_DIR = "registry"


@dataclass(frozen=True)
class RegistryEntry:
    """A registered workspace: where it is, what it holds, and when it expires."""

    id: str
    root: Path
    manifest: Path
    created: datetime
    expires: datetime | None = None
    ephemeral: bool = False
    repos: tuple[str, ...] = field(default_factory=tuple)  # repo paths relative to root

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now >= self.expires

    def repo_dirs(self) -> list[Path]:
        return [self.root / rel for rel in self.repos]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "root": str(self.root),
            "manifest": str(self.manifest),
            "created": self.created.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "ephemeral": self.ephemeral,
            "repos": list(self.repos),
        }

    def listed(self, now: datetime) -> dict[str, Any]:
        """A row of ``nestr workspace list --json``: the entry, whether its directory still
        exists and whether it expired at ``now``."""
        return {**self.to_dict(), "exists": self.root.exists(), "expired": self.expired(now)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RegistryEntry:
        return cls(
            id=str(raw["id"]),
            root=Path(raw["root"]),
            manifest=Path(raw["manifest"]),
            created=datetime.fromisoformat(raw["created"]),
            expires=datetime.fromisoformat(raw["expires"]) if raw.get("expires") else None,
            ephemeral=bool(raw.get("ephemeral", False)),
            repos=tuple(raw.get("repos") or ()),
        )


def registry_dir(state_dir: Path) -> Path:
    return state_dir / WORKSPACES_DIR / REGISTRY_DIR


def ephemeral_root(state_dir: Path, workspace_id: str) -> Path:
    """Where an ephemeral workspace with ``workspace_id`` lives."""
    return state_dir / WORKSPACES_DIR / workspace_id


def register(
    state_dir: Path, workspace: Workspace, *, ephemeral: bool, repos: Sequence[str] = ()
) -> RegistryEntry:
    """Record (or update) ``workspace`` in the registry; repo paths merge with known ones."""
    known = _read(registry_dir(state_dir) / f"{workspace.id}.json")
    merged = sorted({*(known.repos if known else ()), *repos})
    entry = RegistryEntry(
        id=workspace.id,
        root=workspace.root,
        manifest=workspace.manifest_path,
        created=workspace.created,
        expires=workspace.expires,
        ephemeral=ephemeral,
        repos=tuple(merged),
    )
    _write(registry_dir(state_dir) / f"{entry.id}.json", entry.to_dict())
    return entry


def unregister(state_dir: Path, workspace_id: str) -> None:
    (registry_dir(state_dir) / f"{workspace_id}.json").unlink(missing_ok=True)


def discard_workspace(state_dir: Path, root: Path) -> None:
    """Remove a workspace directory nestr just made and its registration (it holds no work).

    The directory goes first: a registration left by an interruption in between names a
    missing directory, which ``workspace gc`` cleans up; the reverse would leave an orphan.
    """
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    for entry in registered(state_dir):
        if entry.root == root:
            unregister(state_dir, entry.id)


def registered(state_dir: Path) -> list[RegistryEntry]:
    """Every registered workspace, oldest first (unreadable files are skipped)."""
    directory = registry_dir(state_dir)
    entries = [_read(path) for path in sorted(directory.glob("*.json"))]
    return sorted((e for e in entries if e is not None), key=lambda e: (e.created, e.id))


def find_registered(state_dir: Path, id_or_path: str, cwd: Path) -> RegistryEntry:
    """The workspace named by id or by (a path inside) its root; a clear error if none."""
    entries = registered(state_dir)
    for entry in entries:
        if entry.id == id_or_path:
            return entry
    target = (cwd / id_or_path).resolve()
    for entry in entries:
        if target == entry.root or entry.root in target.parents:
            return entry
    raise NotFound(
        f"no registered workspace has the id or path {id_or_path!r}",
        kind="workspace",
        name=id_or_path,
        hint="`nestr workspace list` shows them",
    )


def _read(path: Path) -> RegistryEntry | None:
    try:
        return RegistryEntry.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
