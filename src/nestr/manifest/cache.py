"""The repos of a manifest, from the input cache while its files are unchanged.

Commands that only need the resolved repos (``status``, ``foreach``) call
:func:`load_manifest_repos`. On a hit it returns what :func:`~nestr.manifest.loader.load_manifest`
returned last time for the same files — repos, group filter, sources — without importing YAML
or pydantic. On a miss, or when any of the manifest's files (the root and every import) changed,
it runs the full, validating loader, so an edit that breaks the manifest is reported exactly as
before. The raw ``workflows`` and ``sync`` sections are not carried: commands that need them
call ``load_manifest``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nestr import inputcache
from nestr.errors import SourceLocation
from nestr.manifest.model import CloneOptions, Manifest, RepoSpec

KIND = "manifest"


def load_manifest_repos(path: Path) -> Manifest:
    """The manifest at ``path`` with its repos resolved; ``workflows`` and ``sync`` left empty."""
    root = path.absolute()
    key = str(root)
    cached = _decode(inputcache.lookup(KIND, key))
    if cached is not None:
        return cached
    from nestr.manifest.loader import load_manifest

    manifest = load_manifest(root)
    parsed = inputcache.stamped(zip(manifest.sources, manifest.source_digests, strict=True))
    inputcache.store(KIND, key, manifest.sources, _encode(manifest), taken=parsed)
    return manifest


def _encode(manifest: Manifest) -> dict[str, Any]:
    return {
        "path": str(manifest.path),
        "group_filter": list(manifest.group_filter),
        "sources": [str(p) for p in manifest.sources],
        "source_digests": list(manifest.source_digests),
        "repos": [_encode_repo(spec) for spec in manifest.repos],
    }


def _encode_repo(spec: RepoSpec) -> dict[str, Any]:
    loc = spec.location
    return {
        "name": spec.name,
        "url": spec.url,
        "revision": spec.revision,
        "path": spec.path,
        "groups": list(spec.groups),
        "clone": [spec.clone.depth, spec.clone.filter],
        "active": spec.active,
        "vars": dict(spec.vars),
        "location": [str(loc.file) if loc.file else None, loc.line, loc.column, loc.origin],
    }


def _decode(value: Any) -> Manifest | None:
    """The manifest an entry holds; None for an entry of another shape (then it is rebuilt)."""
    try:
        return Manifest(
            path=Path(value["path"]),
            repos=tuple(_decode_repo(raw) for raw in value["repos"]),
            group_filter=tuple(value["group_filter"]),
            sources=tuple(Path(p) for p in value["sources"]),
            source_digests=tuple(value["source_digests"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _decode_repo(raw: dict[str, Any]) -> RepoSpec:
    file, line, column, origin = raw["location"]
    depth, filter_ = raw["clone"]
    return RepoSpec(
        name=raw["name"],
        url=raw["url"],
        revision=raw["revision"],
        path=raw["path"],
        groups=tuple(raw["groups"]),
        clone=CloneOptions(depth=depth, filter=filter_),
        active=bool(raw["active"]),
        vars=dict(raw["vars"]),
        location=SourceLocation(Path(file) if file else None, line, column, origin),
    )
