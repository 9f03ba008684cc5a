"""Google repo XML manifests → nestr.yaml data.

``<include name=…>`` is followed relative to the including file, in place, as repo does;
``<remove-project>`` removes what came before. Remotes (``fetch``), ``<default>`` (``remote``,
``revision``) and projects (``name``, ``path``, ``remote``, ``revision``, ``groups``,
``clone-depth``) translate directly. Everything else — ``copyfile``, ``linkfile``,
``annotation``, ``sync-j``, hooks, … — is reported by name.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nestr.errors import ManifestError
from nestr.manifest.conversion import Conversion
from nestr.manifest.importers.xmlsource import XmlDocument, load_xml_file
from nestr.manifest.schema import GROUP_PATTERN

PROJECT_ATTRS = {"name", "path", "remote", "revision", "groups", "clone-depth"}
REASONS = {
    "linkfile": "nestr has no linkfile",
    "copyfile": "nestr has no copyfile; shared files belong in sync",
    "annotation": "nestr keeps no annotations; per-repo values belong in vars",
    "sync-j": "use -j/--jobs or the jobs setting",
}


@dataclass
class _State:
    remotes: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    projects: list[tuple[XmlDocument, ET.Element]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def note(self, doc: XmlDocument, element: ET.Element, what: str, key: str) -> None:
        reason = REASONS.get(key, "nestr has no equivalent")
        self.warnings.append(f"{doc.locate(element)}: {what}: not imported ({reason})")


def import_repo(path: Path) -> Conversion:
    """Translate the repo manifest at ``path`` (following its includes) into nestr.yaml data."""
    state = _State()
    _read(path.absolute(), state, chain=())
    repos, groups_filter = _repos(state)
    data: dict[str, Any] = {"version": 1}
    data["remotes"] = [
        {"name": name, "url_base": remote["fetch"].rstrip("/")}
        for name, remote in state.remotes.items()
    ]
    defaults = {k: v for k, v in state.defaults.items() if k in {"remote", "revision"}}
    if defaults:
        data["defaults"] = defaults
    if groups_filter:
        data["group_filter"] = groups_filter
    data["repos"] = repos
    return Conversion(data=data, warnings=tuple(state.warnings))


def _read(path: Path, state: _State, chain: tuple[Path, ...]) -> None:
    doc = load_xml_file(path)
    if doc.root.tag != "manifest":
        raise ManifestError(
            f"not a repo manifest: root element is <{doc.root.tag}>",
            location=doc.locate(doc.root),
            hint="pass a repo manifest XML file (<manifest>…</manifest>)",
        )
    for element in doc.root:
        handler = _HANDLERS.get(element.tag)
        if element.tag == "include":
            _include(doc, element, state, (*chain, path))
        elif handler is not None:
            handler(doc, element, state)
        else:
            state.note(doc, element, f"<{element.tag}>", element.tag)


def _include(doc: XmlDocument, element: ET.Element, state: _State, chain: tuple[Path, ...]) -> None:
    name = _required(doc, element, "name")
    target = (doc.path.parent / name).resolve()
    if target in chain:
        names = " → ".join(p.name for p in (*chain, target))
        raise ManifestError(
            f"include cycle: {names}", location=doc.locate(element), field="include"
        )
    if not target.is_file():
        raise ManifestError(
            f"included manifest {name!r} not found ({target})",
            location=doc.locate(element),
            field="include",
            hint="repo includes are resolved relative to the including file; copy it beside it",
        )
    _read(target, state, chain)


def _remote(doc: XmlDocument, element: ET.Element, state: _State) -> None:
    name = _required(doc, element, "name")
    fetch = _required(doc, element, "fetch")
    if "://" not in fetch and not fetch.startswith(("/", "git@")):
        state.warnings.append(
            f"{doc.locate(element)}: remote {name!r} fetch {fetch!r} is relative to the "
            "manifest repository's URL, which a file does not tell; set url_base by hand"
        )
    state.remotes[name] = {
        "fetch": fetch,
        **{k: v for k, v in element.attrib.items() if k == "revision"},
    }
    for key in element.attrib.keys() - {"name", "fetch", "revision"}:
        state.note(doc, element, f"remote {name!r} {key}", key)


def _default(doc: XmlDocument, element: ET.Element, state: _State) -> None:
    if state.defaults:
        state.warnings.append(
            f"{doc.locate(element)}: <default> given twice: the first one is kept"
        )
        return
    state.defaults = dict(element.attrib)
    for key, value in element.attrib.items():
        if key not in {"remote", "revision"}:
            state.note(doc, element, f"<default {key}={value!r}>", key)


def _project(doc: XmlDocument, element: ET.Element, state: _State) -> None:
    name = _required(doc, element, "name")
    for key in element.attrib.keys() - PROJECT_ATTRS:
        state.note(doc, element, f"project {name!r} {key}", key)
    for child in element:
        what = f"project {name!r} <{child.tag}{_describe(child)}>"
        state.note(doc, child, what, child.tag)
    state.projects.append((doc, element))


def _remove_project(doc: XmlDocument, element: ET.Element, state: _State) -> None:
    name = _required(doc, element, "name")
    state.projects = [(d, p) for d, p in state.projects if p.get("name") != name]


_HANDLERS = {
    "remote": _remote,
    "default": _default,
    "project": _project,
    "remove-project": _remove_project,
}


def _describe(child: ET.Element) -> str:
    if child.tag in {"linkfile", "copyfile"}:
        return f" {child.get('src')} → {child.get('dest')}"
    if child.tag == "annotation":
        return f" {child.get('name')}={child.get('value')}"
    return ""


def _required(doc: XmlDocument, element: ET.Element, attr: str) -> str:
    value = element.get(attr)
    if not value:
        raise ManifestError(
            f"<{element.tag}> has no {attr!r} attribute",
            location=doc.locate(element),
            field=f"{element.tag}.{attr}",
        )
    return value


def _repos(state: _State) -> tuple[list[dict[str, Any]], list[str]]:
    counts = Counter(p.get("name") for _, p in state.projects)
    repos = [_repo(doc, p, state, unique=counts[p.get("name")] == 1) for doc, p in state.projects]
    notdefault = any("notdefault" in r.get("groups", []) for r in repos)
    if notdefault:
        state.warnings.append(
            "group 'notdefault' is disabled with group_filter: [-notdefault]; a repo also in an "
            "enabled group stays active (repo would leave it out)"
        )
    return repos, ["-notdefault"] if notdefault else []


def _repo(doc: XmlDocument, element: ET.Element, state: _State, *, unique: bool) -> dict[str, Any]:
    name = element.get("name", "")
    path = element.get("path") or name
    repo: dict[str, Any] = {"name": name if unique else path}
    remote = element.get("remote") or state.defaults.get("remote")
    if remote is None or remote not in state.remotes:
        raise ManifestError(
            f"project {name!r} names unknown remote {remote!r}"
            if remote
            else f"project {name!r} has no remote",
            location=doc.locate(element),
            field="project.remote",
            hint=f"defined remotes: {', '.join(state.remotes) or 'none'}",
        )
    if element.get("remote"):
        repo["remote"] = remote
    if not unique:
        repo["repo_path"] = name
    revision = element.get("revision") or state.remotes[remote].get("revision")
    if revision:
        repo["revision"] = revision
    if path != repo["name"]:
        repo["path"] = path
    groups = _groups(doc, element, state)
    if groups:
        repo["groups"] = groups
    depth = element.get("clone-depth", "")
    if depth.isdigit() and int(depth) > 0:
        repo["clone"] = {"depth": int(depth)}
    elif depth:
        state.note(doc, element, f"project {name!r} clone-depth={depth!r}", "clone-depth")
    return repo


def _groups(doc: XmlDocument, element: ET.Element, state: _State) -> list[str]:
    groups = []
    for group in re.split(r"[,\s]+", element.get("groups", "").strip()):
        if not group:
            continue
        if re.fullmatch(GROUP_PATTERN, group):
            groups.append(group)
        else:
            state.warnings.append(
                f"{doc.locate(element)}: group {group!r}: not imported "
                "(not a valid nestr group name)"
            )
    return groups
