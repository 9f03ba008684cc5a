"""Importing a foreign manifest the way a user does, and comparing what it resolves to."""

from __future__ import annotations

from pathlib import Path

from nestr.manifest.importers import import_file
from nestr.manifest.loader import load_manifest_text
from nestr.manifest.model import Manifest
from nestr.manifest.writer import dump_yaml


def loaded(fmt: str, path: Path, tmp_path: Path) -> tuple[Manifest, tuple[str, ...]]:
    """Import ``path`` and load the resulting nestr.yaml text like a user's file."""
    result = import_file(fmt, path)
    return load_manifest_text(dump_yaml(result.data), tmp_path / "nestr.yaml"), result.warnings


def comparable(manifest: Manifest) -> list[tuple[object, ...]]:
    """The facts of each repo an import must keep through a round trip."""
    return [
        (r.name, r.url, r.revision, r.path, r.groups, r.active, r.clone) for r in manifest.repos
    ]
