"""vcstool ``.repos`` files → nestr.yaml data.

A ``.repos`` file maps checkout paths to ``{type, url, version}``. nestr only manages git, so
other types are reported and left out. A repo is named after the last part of its path, or the
whole path when two repos share that last part.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from nestr.manifest.conversion import Conversion
from nestr.manifest.importers.common import bad, mapping, text, unhandled
from nestr.yamlsource import KeyPath, YamlDocument

REPO_KEYS = ("type", "url", "version")


def import_vcstool(doc: YamlDocument) -> Conversion:
    """Translate a parsed vcstool ``.repos`` file into nestr.yaml data."""
    top = mapping(doc, (), doc.data)
    if "repositories" not in top:
        raise bad(doc, (), "not a vcstool file: no top-level 'repositories:'", "pass a .repos file")
    warnings = unhandled(doc, (), top, ("repositories",))
    entries = mapping(doc, ("repositories",), top["repositories"])
    tails = Counter(str(path).rstrip("/").rsplit("/", 1)[-1] for path in entries)
    repos = []
    for path, raw in entries.items():
        repo, notes = _repo(doc, ("repositories", path), str(path), raw, tails)
        warnings.extend(notes)
        if repo is not None:
            repos.append(repo)
    return Conversion(data={"version": 1, "repos": repos}, warnings=tuple(warnings))


def _repo(
    doc: YamlDocument, where: KeyPath, path: str, raw: Any, tails: Counter[str]
) -> tuple[dict[str, Any] | None, list[str]]:
    entry = mapping(doc, where, raw)
    kind = entry.get("type", "git")
    if kind != "git":
        return None, [
            f"{doc.locate_key(where)}: {path}: not imported (type {kind!r}; nestr manages git only)"
        ]
    if "url" not in entry:
        raise bad(doc, where, f"repository {path!r} has no url", "add url: <clone URL>")
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    repo: dict[str, Any] = {"name": tail if tails[tail] == 1 else path, "path": path}
    repo["url"] = text(doc, (*where, "url"), entry["url"])
    notes = unhandled(doc, where, entry, REPO_KEYS)
    if "version" in entry:
        repo["revision"] = text(doc, (*where, "version"), entry["version"])
    else:
        notes.append(
            f"{doc.locate_key(where)}: {path}: no version (vcstool uses the remote's default "
            "branch; nestr uses defaults.revision, else main)"
        )
    return repo, notes
