"""nestr manifests → west, vcstool and repo (XML) manifests.

Exporters read the resolved :class:`Manifest` (defaults, imports and URL rewrites applied), so
every repo is written with its full URL. ``commits`` (name → commit, from nestr.lock) replaces
each revision with its locked commit. What the target cannot express, and every name changed to
suit it, is named in the warnings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nestr.errors import UsageError
from nestr.manifest.conversion import Conversion
from nestr.manifest.model import Manifest, RepoSpec

Exporter = Callable[[Manifest, Mapping[str, str] | None], Conversion]


def export_west(manifest: Manifest, commits: Mapping[str, str] | None = None) -> Conversion:
    """A west manifest with one project per repo (``url``, ``revision``, ``path``, groups)."""
    names, warnings = west_names(manifest.repos)
    projects = []
    for spec in manifest.repos:
        name = names[spec.name]
        project: dict[str, Any] = {"name": name, "url": spec.url}
        project["revision"] = revision_of(spec, commits)
        if spec.path != name:
            project["path"] = spec.path
        if spec.groups:
            project["groups"] = list(spec.groups)
        if spec.clone.depth is not None:
            project["clone-depth"] = spec.clone.depth
        warnings.extend(lost(spec, "filter" if spec.clone.filter else None, "west"))
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
            "version": revision_of(spec, commits),
        }
        clone = "depth" if spec.clone.depth is not None else None
        clone = clone or ("filter" if spec.clone.filter else None)
        warnings.extend(lost(spec, clone, "vcstool"))
    return Conversion(data={"repositories": repositories}, warnings=tuple(warnings))


# west 1.5 refuses '/' and '\\' in project names and the name 'manifest' ("Invalid project
# name"), and warns that ',' and whitespace will be refused next.
_WEST_BAD_CHARS = re.compile(r"[/\\,\s]")
_WEST_RESERVED = "manifest"


def west_names(repos: Sequence[RepoSpec]) -> tuple[dict[str, str], list[str]]:
    """A west project name for each repo (``/`` → ``-``, made unique), and one warning per
    renamed repo. Names west accepts are kept, and a renamed repo never takes one of them."""
    wanted = {spec.name: _WEST_BAD_CHARS.sub("-", spec.name) for spec in repos}
    taken = {name for name, west in wanted.items() if name == west != _WEST_RESERVED}
    names: dict[str, str] = {}
    warnings: list[str] = []
    for spec in repos:
        if spec.name in taken:
            names[spec.name] = spec.name
            continue
        base = wanted[spec.name] if wanted[spec.name] != _WEST_RESERVED else "manifest-repo"
        candidate, index = base, 2
        while candidate in taken:
            candidate, index = f"{base}-{index}", index + 1
        taken.add(candidate)
        names[spec.name] = candidate
        warnings.append(
            f"{spec.name}: renamed to {candidate!r} for west (a west project name has no '/',"
            f" '\\', ',' or whitespace and is not 'manifest'); its path stays {spec.path!r}"
        )
    return names, warnings


def _export_repo(manifest: Manifest, commits: Mapping[str, str] | None = None) -> Conversion:
    from nestr.manifest.repoexport import export_repo

    return export_repo(manifest, commits)


EXPORTERS: dict[str, Exporter] = {
    "west": export_west,
    "vcstool": export_vcstool,
    "repo": _export_repo,
}


def revision_of(spec: RepoSpec, commits: Mapping[str, str] | None) -> str:
    """The revision to write: the manifest's, or the repo's locked commit."""
    if commits is None:
        return spec.revision
    if spec.name not in commits:
        raise UsageError(
            f"no locked commit for repo {spec.name!r}",
            hint="run `nestr lock` to pin every repo of the manifest",
        )
    return commits[spec.name]


def lost(spec: RepoSpec, option: str | None, target: str) -> list[str]:
    """One warning for ``option`` (a clone option) and one for ``vars``, when set."""
    missing = [f"clone {option}"] if option else []
    if spec.vars:
        missing.append("vars")
    return [f"{spec.name}: {what} not exported ({target} has no equivalent)" for what in missing]
