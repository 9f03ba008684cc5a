"""A workspace on disk: its root, the manifest it was assembled from, its id and expiry.

The record lives in ``<root>/.nestr/workspace.json`` so any command run inside a workspace finds
it by walking up from the working directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from nestr.errors import UsageError
from nestr.manifest.model import RepoSpec

RECORD_DIR = ".nestr"
RECORD_FILE = "workspace.json"


@dataclass(frozen=True)
class Workspace:
    """An assembled (or being assembled) workspace."""

    root: Path
    manifest_path: Path
    id: str
    created: datetime
    expires: datetime | None = None  # ephemeral workspaces only

    @property
    def record_path(self) -> Path:
        return self.root / RECORD_DIR / RECORD_FILE

    def repo_dir(self, spec: RepoSpec) -> Path:
        return self.root / spec.path

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "root": str(self.root),
            "manifest": str(self.manifest_path),
            "created": self.created.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
        }

    @classmethod
    def from_dict(cls, root: Path, raw: dict[str, Any]) -> Workspace:
        return cls(
            root=root,
            manifest_path=Path(raw["manifest"]),
            id=str(raw["id"]),
            created=datetime.fromisoformat(raw["created"]),
            expires=datetime.fromisoformat(raw["expires"]) if raw.get("expires") else None,
        )


def new_workspace_id() -> str:
    import uuid  # here: reading a workspace (every status) needs neither uuid nor tempfile

    return uuid.uuid4().hex[:12]


def write_record(workspace: Workspace) -> None:
    """Write the record atomically (temp file + rename)."""
    directory = workspace.record_path.parent
    directory.mkdir(parents=True, exist_ok=True)
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".workspace.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(workspace.to_dict(), handle, indent=2, sort_keys=True)
            handle.write("\n")
        Path(tmp).replace(workspace.record_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def open_workspace(root: Path) -> Workspace:
    """The workspace whose root is ``root``; a clear error if it is not one."""
    record = root / RECORD_DIR / RECORD_FILE
    try:
        raw = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{root} is not a nestr workspace",
            hint="run `nestr assemble -w DIR` to create one, or pass -w",
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the workspace record {record}: {exc}") from None
    return Workspace.from_dict(root.resolve(), raw)


def find_workspace(start: Path) -> Workspace:
    """The workspace containing ``start`` (walking up), or a clear error."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / RECORD_DIR / RECORD_FILE).is_file():
            return open_workspace(directory)
    raise UsageError(
        f"not inside a nestr workspace: {start}",
        hint="pass -w DIR, or run `nestr assemble` to create a workspace",
    )
