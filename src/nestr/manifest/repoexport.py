"""nestr manifests → repo (Google's git-repo) XML manifests.

repo names a project by its path on a remote: the URL is ``<remote fetch>/<name>``. Each repo's
URL is split so that, where it ends in ``/<repo name>``, the project keeps the nestr name (and
``nestr manifest import --from repo`` gives it back); otherwise the name is the URL's last part
and the change is reported. One ``<remote>`` per distinct fetch base, named after its host; the
most common remote and revision go to ``<default>``. Groups and ``clone-depth`` translate;
``clone.filter``, ``vars`` and the group filter (repo chooses groups at ``repo init -g``) are
reported. nestr has no ``copyfile``/``linkfile``, so none are written.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from nestr.manifest.conversion import Conversion
from nestr.manifest.exporters import lost, revision_of
from nestr.manifest.model import Manifest, RepoSpec


def export_repo(manifest: Manifest, commits: Mapping[str, str] | None = None) -> Conversion:
    """A repo manifest: ``remotes``, ``default`` and ``projects`` as attribute mappings."""
    warnings: list[str] = []
    if manifest.group_filter:
        entries = ", ".join(manifest.group_filter)
        warnings.append(f"group_filter [{entries}] not exported (repo chooses groups at init)")
    placed = [(spec, *split_url(spec)) for spec in manifest.repos]
    remotes = _remote_names([fetch for _, fetch, _ in placed])
    revisions = {spec.name: revision_of(spec, commits) for spec in manifest.repos}
    default = _default(placed, remotes, revisions)
    projects = []
    for spec, fetch, name in placed:
        project = {"name": name, "path": spec.path}
        if remotes[fetch] != default.get("remote"):
            project["remote"] = remotes[fetch]
        if revisions[spec.name] != default.get("revision"):
            project["revision"] = revisions[spec.name]
        project.update(_extras(spec))
        projects.append({k: v for k, v in project.items() if not (k == "path" and v == name)})
        warnings.extend(_notes(spec, name))
    data: dict[str, Any] = {
        "remotes": [{"name": remotes[fetch], "fetch": fetch} for fetch in remotes],
        "default": default,
        "projects": projects,
    }
    return Conversion(data=data, warnings=tuple(warnings))


def split_url(spec: RepoSpec) -> tuple[str, str]:
    """``(fetch, name)`` with ``fetch + "/" + name == spec.url``; the name is the repo's own
    name when the URL ends with it, else the URL's last part."""
    url = spec.url
    if url.endswith("/" + spec.name) and len(url) > len(spec.name) + 1:
        return url[: -len(spec.name) - 1], spec.name
    fetch, _, name = url.rstrip("/").rpartition("/")
    return (fetch, name) if fetch and name else (url, spec.name)


def render_repo_xml(data: Mapping[str, Any], *, header: str | None = None) -> str:
    """The XML text of :func:`export_repo`'s data (UTF-8, indented, attributes in order)."""
    root = ET.Element("manifest")
    for remote in data["remotes"]:
        ET.SubElement(root, "remote", remote)
    if data["default"]:
        ET.SubElement(root, "default", data["default"])
    for project in data["projects"]:
        ET.SubElement(root, "project", project)
    ET.indent(root, space="  ")
    text = '<?xml version="1.0" encoding="UTF-8"?>\n'
    if header:
        text += f"<!-- {header.replace('--', '- -')} -->\n"
    return text + ET.tostring(root, encoding="unicode") + "\n"


def _remote_names(fetches: list[str]) -> dict[str, str]:
    """A remote name per distinct fetch base, in first-use order: its host's first label."""
    names: dict[str, str] = {}
    for fetch in fetches:
        if fetch in names:
            continue
        host = urlsplit(fetch).hostname or fetch.partition("@")[2].partition(":")[0]
        base = (host.split(".")[0] if host else "") or "origin"
        name, index = base, 2
        while name in names.values():
            name, index = f"{base}-{index}", index + 1
        names[fetch] = name
    return names


def _default(
    placed: list[tuple[RepoSpec, str, str]], remotes: dict[str, str], revisions: dict[str, str]
) -> dict[str, str]:
    if not placed:
        return {}
    remote = Counter(remotes[fetch] for _, fetch, _ in placed).most_common(1)[0][0]
    revision = Counter(revisions.values()).most_common(1)[0][0]
    return {"remote": remote, "revision": revision}


def _extras(spec: RepoSpec) -> dict[str, str]:
    extras = {}
    if spec.groups:
        extras["groups"] = ",".join(spec.groups)
    if spec.clone.depth is not None:
        extras["clone-depth"] = str(spec.clone.depth)
    return extras


def _notes(spec: RepoSpec, name: str) -> list[str]:
    notes = lost(spec, "filter" if spec.clone.filter else None, "repo")
    if name != spec.name:
        notes.append(
            f"{spec.name}: exported as project {name!r} (repo names a project by its path on the"
            " remote, which is how an import names it back)"
        )
    return notes
