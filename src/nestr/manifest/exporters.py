"""nestr manifests → west and vcstool manifests.

Exporters read the resolved :class:`Manifest` (defaults, imports and URL rewrites applied), so
every repo is written with its full URL. ``commits`` (name → commit, from nestr.lock) replaces
each revision with its locked commit. What the target cannot express is named in the warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nestr.errors import UsageError
from nestr.manifest.conversion import Conversion
from nestr.manifest.model import Manifest, RepoSpec

Exporter = Callable[[Manifest, Mapping[str, str] | None], Conversion]


def export_west(manifest: Manifest, commits: Mapping[str, str] | None = None) -> Conversion:
    """A west manifest with one project per repo (``url``, ``revision``, ``path``, groups)."""
    warnings: list[str] = []
    projects = []
    for spec in manifest.repos:
        project: dict[str, Any] = {"name": spec.name, "url": spec.url}
        project["revision"] = _revision(spec, commits)
        if spec.path != spec.name:
            project["path"] = spec.path
        if spec.groups:
            project["groups"] = list(spec.groups)
        if spec.clone.depth is not None:
            project["clone-depth"] = spec.clone.depth
        warnings.extend(_lost(spec, "filter" if spec.clone.filter else None, "west"))
        projects.append(project)
    body: dict[str, Any] = {}
    if manifest.group_filter:
        body["group-filter"] = list(manifest.group_filter)
    body["projects"] = projects
    return Conversion(data={"manifest": body}, warnings=tuple(warnings))


def export_vcstool(manifest: Manifest, commits: Mapping[str, str] | None = None) -> Conversion:
    """A vcstool ``.repos`` file of the active repos, keyed by path (vcstool has no groups)."""
    warnings: list[str] = []
    repositories: dict[str, Any] = {}
    for spec in manifest.repos:
        if not spec.active:
            warnings.append(f"{spec.name}: not exported (inactive under the group filter)")
            continue
        repositories[spec.path] = {
            "type": "git",
            "url": spec.url,
            "version": _revision(spec, commits),
        }
        clone = "depth" if spec.clone.depth is not None else None
        clone = clone or ("filter" if spec.clone.filter else None)
        warnings.extend(_lost(spec, clone, "vcstool"))
    return Conversion(data={"repositories": repositories}, warnings=tuple(warnings))


EXPORTERS: dict[str, Exporter] = {"west": export_west, "vcstool": export_vcstool}


def _revision(spec: RepoSpec, commits: Mapping[str, str] | None) -> str:
    if commits is None:
        return spec.revision
    if spec.name not in commits:
        raise UsageError(
            f"no locked commit for repo {spec.name!r}",
            hint="run `nestr lock` to pin every repo of the manifest",
        )
    return commits[spec.name]


def _lost(spec: RepoSpec, option: str | None, target: str) -> list[str]:
    lost = [f"clone {option}"] if option else []
    if spec.vars:
        lost.append("vars")
    return [f"{spec.name}: {what} not exported ({target} has no equivalent)" for what in lost]
