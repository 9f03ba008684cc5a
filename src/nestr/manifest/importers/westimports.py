"""The parts of west's ``import:`` that need no git: import maps, contexts, and reading files.

west resolves a manifest in this order (west ``manifest.py``, ``_load_validated``): the files of
``self: import:`` (from the manifest repository), then the file's own ``projects:``, then the
``import:`` of each project it added, at that project's revision. The first definition of a
project name wins. An import map narrows what an import brings (``name-allowlist``,
``path-allowlist``, ``name-blocklist``, ``path-blocklist``) and moves it (``path-prefix``); both
accumulate down the import tree. Files of a project are read through a :class:`ProjectFiles`
callback, so this package never runs git: the caller reads them (from the mirror cache).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from nestr.errors import ManifestError
from nestr.manifest.importers.common import bad, mapping
from nestr.yamlsource import KeyPath, YamlDocument, load_yaml_file, parse_yaml

WEST_YML = "west.yml"
MAX_DEPTH = 64  # west stops at Python's recursion limit; nothing real nests this deep
_LISTS = {
    "name-allowlist": "name-whitelist",
    "path-allowlist": "path-whitelist",
    "name-blocklist": "name-blacklist",
    "path-blocklist": "path-blacklist",
}


class ImportUnavailable(Exception):
    """A project's manifest file could not be read (no such file, revision, or repository)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ProjectFiles(Protocol):
    """Reads manifest files of a project at a revision (nestr reads them from its mirror)."""

    def __call__(self, url: str, revision: str, path: str) -> list[tuple[str, str]]:
        """``[(path, text)]``: the file at ``path``, or the ``.yml``/``.yaml`` files of the
        directory at ``path`` in name order; :class:`ImportUnavailable` if it cannot."""
        ...


@dataclass(frozen=True)
class ImportMap:
    """One ``import:`` mapping: which file, which of its projects, under which path prefix."""

    file: str = WEST_YML
    name_allowlist: tuple[str, ...] = ()
    path_allowlist: tuple[str, ...] = ()
    name_blocklist: tuple[str, ...] = ()
    path_blocklist: tuple[str, ...] = ()
    path_prefix: str = ""

    @property
    def filters(self) -> bool:
        return any(
            (self.name_allowlist, self.path_allowlist, self.name_blocklist, self.path_blocklist)
        )

    def allows(self, name: str, path: str) -> bool:
        """west's ``_is_imap_ok``: a block is lifted by an allow; allowlists exclude the rest."""
        pure = PurePosixPath(path)
        blocked = name in self.name_blocklist or any(pure.match(p) for p in self.path_blocklist)
        allowed = name in self.name_allowlist or any(pure.match(p) for p in self.path_allowlist)
        return allowed if blocked else allowed or not (self.name_allowlist or self.path_allowlist)


def parse_import_map(doc: YamlDocument, where: KeyPath, raw: Any) -> ImportMap:
    """An import mapping, checked like west's ``_load_imap`` (old whitelist names accepted)."""
    data = dict(mapping(doc, where, raw))
    lists: dict[str, tuple[str, ...]] = {}
    for key, old in _LISTS.items():
        value = data.pop(key, data.pop(old, []))
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad(doc, (*where, key), f"{key}: expected a string or a list of strings")
        lists[key.replace("-", "_")] = tuple(value)
    file = data.pop("file", WEST_YML)
    prefix = data.pop("path-prefix", "")
    if not isinstance(file, str) or not file or not isinstance(prefix, str):
        raise bad(doc, where, "file and path-prefix must be strings")
    if data:
        known = "file, name-allowlist, path-allowlist, name-blocklist, path-blocklist, path-prefix"
        raise bad(doc, (*where, next(iter(data))), "unknown import key", f"known keys: {known}")
    return ImportMap(file=file, path_prefix=_relative(doc, where, prefix, "path-prefix"), **lists)


def import_maps(doc: YamlDocument, where: KeyPath, raw: Any) -> list[tuple[KeyPath, ImportMap]]:
    """A project's ``import:`` value (true, a path, a mapping or a list of them) as maps."""
    if raw is True:
        return [(where, ImportMap())]
    if isinstance(raw, str) and raw:
        return [(where, ImportMap(file=raw))]
    if isinstance(raw, dict):
        return [(where, parse_import_map(doc, where, raw))]
    if isinstance(raw, list):
        return [m for i, item in enumerate(raw) for m in import_maps(doc, (*where, i), item)]
    raise bad(doc, where, f"import: expected true, a path, a mapping or a list; found {raw!r}")


@dataclass(frozen=True)
class Context:
    """What the importing manifests impose on a file: filters (all must allow) and a prefix."""

    filters: tuple[ImportMap, ...] = ()
    prefix: str = ""
    chain: tuple[str, ...] = ()  # the files being imported, outermost first

    def allows(self, name: str, path: str) -> bool:
        return all(imap.allows(name, path) for imap in self.filters)

    def entering(self, imap: ImportMap, key: str) -> Context:
        filters = (*self.filters, imap) if imap.filters else self.filters
        return replace(
            self,
            filters=filters,
            prefix=join(self.prefix, imap.path_prefix),
            chain=(*self.chain, key),
        )

    def path(self, *parts: str) -> str:
        return join(self.prefix, *parts)


def join(*parts: str) -> str:
    """POSIX join of relative parts; empty parts are skipped, ``.`` parts vanish."""
    joined = PurePosixPath(*[p for p in parts if p])
    return "" if str(joined) == "." else str(joined)


@dataclass(frozen=True)
class Source:
    """Where a manifest's relative files live: a directory, or a project at a revision."""

    directory: Path | None = None
    project: tuple[str, str, str] | None = None  # name, url, revision

    def key(self, path: str) -> str:
        if self.project is not None:
            return f"{self.project[0]}@{self.project[2]}:{path}"
        return str((self.directory or Path()) / path)


def read_docs(
    doc: YamlDocument,
    where: KeyPath,
    source: Source,
    path: str,
    files: ProjectFiles | None,
) -> list[tuple[str, YamlDocument]]:
    """The parsed manifest files at ``path`` of ``source``, each with its key for cycles."""
    path = _relative(doc, where, path, "import")
    if source.project is None:
        return _read_directory(doc, where, source.directory or Path(), path)
    name, url, revision = source.project
    if files is None:
        raise bad(doc, where, f"project {name!r}: its manifest cannot be read here")
    try:
        found = files(url, revision, path)
    except ImportUnavailable as exc:
        raise bad(
            doc, where, f"cannot import {path!r} from project {name!r}: {exc.message}", exc.hint
        ) from None
    return [
        (source.key(sub), parse_yaml(text, Path(f"{name}@{revision}:{sub}"), error=ManifestError))
        for sub, text in found
    ]


def _read_directory(
    doc: YamlDocument, where: KeyPath, root: Path, path: str
) -> list[tuple[str, YamlDocument]]:
    target = root / path
    if target.is_dir():
        found: Sequence[Path] = sorted(
            p for p in target.iterdir() if p.suffix in {".yml", ".yaml"} and p.is_file()
        )
    elif target.is_file():
        found = [target]
    else:
        what = "is neither a file nor a directory" if target.exists() else "does not exist"
        raise bad(
            doc,
            where,
            f"import {path!r} {what} ({target})",
            "self imports are relative to the manifest repository's top directory",
        )
    return [(str(p.resolve()), load_yaml_file(p, error=ManifestError)) for p in found]


def _relative(doc: YamlDocument, where: KeyPath, raw: str, what: str) -> str:
    """``raw`` as a clean relative POSIX path that stays inside its repository."""
    pure = PurePosixPath(raw)
    if pure.is_absolute() or ".." in pure.parts or "\\" in raw:
        raise bad(
            doc,
            where,
            f"{what} {raw!r} leaves the repository",
            "use a relative path inside it, without '..'",
        )
    return join(raw)


def repository_root(manifest: Path) -> Path:
    """The top directory of the git repository holding ``manifest`` (else its directory)."""
    start = manifest.absolute().parent
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start
