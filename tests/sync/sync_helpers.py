"""Helpers for sync tests: a workspace of real repos and a compact view of plans."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nestr.manifest.model import Manifest, RepoSpec
from nestr.sync import ApplyOptions, SyncPlan, SyncResult, apply_sync, plan_sync
from nestr.testing import git
from nestr.workspace.record import Workspace


@dataclass
class Fleet:
    """A workspace of real repos (clones of bare origins) and a shared source directory."""

    root: Path
    workspace: Workspace
    specs: list[RepoSpec]
    shared: Path
    origins: dict[str, Path] = field(default_factory=dict)

    def repo(self, name: str) -> Path:
        return self.workspace.root / name

    def manifest(self, sync: Mapping[str, Any] | None) -> Manifest:
        return Manifest(
            path=self.workspace.manifest_path, repos=tuple(self.specs), sync=sync, document=None
        )

    def source(self, files: Mapping[str, str | bytes | None]) -> None:
        """Write (None: delete) files of the shared source directory."""
        for name, content in files.items():
            path = self.shared / name
            if content is None:
                path.unlink()
            elif isinstance(content, bytes):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")

    def plan(self, sync: Mapping[str, Any], **kwargs: Any) -> SyncPlan:
        return asyncio.run(plan_sync(self.manifest(sync), self.workspace, jobs=2, **kwargs))

    def apply(
        self, sync: Mapping[str, Any], options: ApplyOptions | None = None, **kwargs: Any
    ) -> SyncResult:
        return asyncio.run(
            apply_sync(self.manifest(sync), self.workspace, options=options, jobs=2, **kwargs)
        )


def clone_origin(template: Path, root: Path, name: str) -> tuple[Path, Path]:
    origin = root / "origins" / f"{name}.git"
    git(root, "clone", "-q", "--bare", str(template), str(origin))
    checkout = root / "ws" / name
    git(root, "clone", "-q", str(origin), str(checkout))
    return origin, checkout


def actions(plan: SyncPlan | SyncResult) -> dict[tuple[str, str], str]:
    """``{(repo, path): action}`` of a plan or an apply result."""
    repos = plan.repos if isinstance(plan, SyncPlan) else [r.plan for r in plan.repos]
    return {(r.repo, f.path): str(f.action) for r in repos for f in r.files}


def write_manifest(f: Fleet, sync: str) -> Path:
    """Write the fleet's nestr.yaml (repos with a `port` var) followed by ``sync`` text."""
    lines = ["version: 1", "repos:"]
    for spec in f.specs:
        groups = ", ".join(spec.groups)
        lines += [
            f"  - name: {spec.name}",
            f"    url: {spec.url}",
            f"    path: {spec.path}",
            f"    groups: [{groups}]",
            f"    vars: {{port: {len(spec.name)}}}",
        ]
    path = f.workspace.manifest_path
    path.write_text("\n".join(lines) + "\n" + sync, encoding="utf-8")
    return path
