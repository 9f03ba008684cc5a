"""west manifests (``west.yml``) → nestr.yaml data.

west's model maps closely onto nestr's: remotes with ``url-base``, ``defaults``, projects with
``repo-path``, ``path``, ``revision``, ``groups`` and the same ``group-filter`` semantics. What
nestr cannot express (``self``, ``import``, ``west-commands``, ``submodules``, ``userdata``) is
reported by name. west's default revision is ``master`` (west docs, "Defaults"), so it is written
out explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nestr.manifest.conversion import Conversion
from nestr.manifest.importers.common import bad, mapping, sequence, text, unhandled
from nestr.yamlsource import KeyPath, YamlDocument, format_key_path

WEST_DEFAULT_REVISION = "master"
PROJECT_KEYS = {
    "name": "name",
    "remote": "remote",
    "repo-path": "repo_path",
    "url": "url",
    "revision": "revision",
    "path": "path",
}
MANIFEST_KEYS = ("version", "remotes", "defaults", "group-filter", "projects", "self")


def import_west(doc: YamlDocument) -> Conversion:
    """Translate a parsed ``west.yml`` into nestr.yaml data."""
    top = mapping(doc, (), doc.data)
    if "manifest" not in top:
        raise bad(doc, (), "not a west manifest: no top-level 'manifest:'", "pass a west.yml")
    where: KeyPath = ("manifest",)
    body = mapping(doc, where, top["manifest"])
    warnings = unhandled(doc, where, body, MANIFEST_KEYS)
    data: dict[str, Any] = {"version": 1}
    remotes = [_remote(doc, (*where, "remotes", i), r) for i, r in _items(doc, body, "remotes")]
    if remotes:
        data["remotes"] = remotes
    data["defaults"] = _defaults(doc, (*where, "defaults"), body.get("defaults"))
    group_filter = [
        text(doc, (*where, "group-filter", i), g) for i, g in _items(doc, body, "group-filter")
    ]
    if group_filter:
        data["group_filter"] = group_filter
    repos = []
    for index, raw in _items(doc, body, "projects"):
        repo, notes = _project(doc, (*where, "projects", index), raw)
        repos.append(repo)
        warnings.extend(notes)
    data["repos"] = repos
    warnings.extend(_self(doc, (*where, "self"), body.get("self")))
    return Conversion(data=data, warnings=tuple(warnings))


def _items(doc: YamlDocument, body: Mapping[str, Any], key: str) -> list[tuple[int, Any]]:
    return list(enumerate(sequence(doc, ("manifest", key), body.get(key))))


def _remote(doc: YamlDocument, where: KeyPath, raw: Any) -> dict[str, str]:
    remote = mapping(doc, where, raw)
    for key in ("name", "url-base"):
        if key not in remote:
            raise bad(doc, where, f"remote has no {key!r}", "west remotes need name and url-base")
    return {
        "name": text(doc, (*where, "name"), remote["name"]),
        "url_base": text(doc, (*where, "url-base"), remote["url-base"]),
    }


def _defaults(doc: YamlDocument, where: KeyPath, raw: Any) -> dict[str, str]:
    defaults = mapping(doc, where, raw)
    out = {}
    if "remote" in defaults:
        out["remote"] = text(doc, (*where, "remote"), defaults["remote"])
    revision = defaults.get("revision", WEST_DEFAULT_REVISION)
    out["revision"] = text(doc, (*where, "revision"), revision)
    return out


def _project(doc: YamlDocument, where: KeyPath, raw: Any) -> tuple[dict[str, Any], list[str]]:
    project = mapping(doc, where, raw)
    if "name" not in project:
        raise bad(doc, where, "project has no 'name'", "every west project needs a name")
    repo: dict[str, Any] = {}
    for west_key, nestr_key in PROJECT_KEYS.items():
        if west_key in project:
            repo[nestr_key] = text(doc, (*where, west_key), project[west_key])
    if "groups" in project:
        groups = sequence(doc, (*where, "groups"), project["groups"])
        repo["groups"] = [text(doc, (*where, "groups", i), g) for i, g in enumerate(groups)]
    if "clone-depth" in project:
        depth = project["clone-depth"]
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise bad(doc, (*where, "clone-depth"), f"expected a positive integer, found {depth!r}")
        repo["clone"] = {"depth": depth}
    known = (*PROJECT_KEYS, "groups", "clone-depth")
    notes = [_project_note(doc, where, repo["name"], key) for key in project if key not in known]
    return repo, notes


REASONS = {
    "import": "west imports from projects are not followed; add their repos or a nestr import",
    "submodules": "nestr does not check out submodules",
    "west-commands": "nestr has no west extension commands",
    "userdata": "nestr keeps no west userdata; per-repo values belong in vars",
}


def _project_note(doc: YamlDocument, where: KeyPath, name: str, key: str) -> str:
    reason = REASONS.get(key, "nestr has no equivalent")
    return f"{doc.locate_key((*where, key))}: project {name!r} {key}: not imported ({reason})"


def _self(doc: YamlDocument, where: KeyPath, raw: Any) -> list[str]:
    if raw is None:
        return []
    own = mapping(doc, where, raw)
    notes = []
    for key, value in own.items():
        at = f"{doc.locate_key((*where, key))}: {format_key_path((*where, key))}"
        if key == "import":
            notes.append(f"{at}: not imported ({_self_import(doc, value)})")
        elif key == "path":
            notes.append(
                f"{at}: not imported (the manifest repository itself, at {value!r}, is not a "
                "repo of the west manifest; add it to repos if the workspace needs it)"
            )
        else:
            notes.append(f"{at}: not imported ({REASONS.get(key, 'nestr has no equivalent')})")
    return notes


def _self_import(doc: YamlDocument, value: Any) -> str:
    """Why a ``self: import:`` was not followed, checking whether its target even exists."""
    if not isinstance(value, str):
        return f"west import {value!r} is not followed; translate the imported files separately"
    target = doc.path.parent / value
    if not target.exists():
        return (
            f"{value!r} does not exist beside the manifest ({target}); nothing was imported from it"
        )
    return f"west imports are not followed; import the files under {value!r} separately"
