"""Load ``nestr.yaml`` (and the manifests it imports) into a :class:`Manifest`.

Each file is parsed with positions (``nestr.yamlsource``), type-checked by the boundary model
(``nestr.manifest.schema``) and resolved (``nestr.manifest.resolve``); every problem names
``file:line:col``. Imports are followed depth first, relative to the importing file: the first
definition of a repo name wins, an import cycle is an error naming the chain, and so is a chain
deeper than :data:`MAX_IMPORT_DEPTH`. A file imported again (a diamond) is read only the first
time: all its repos are defined by then, so a second visit could only add names that lose, and
walking every route would cost time exponential in the depth of the diamond. URL rewrites of a
file apply to its repos and to the repos of what it imports, the importing file's rules first.
Group filters of imported files come before the importing file's, so the root has the last word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import ValidationError

from nestr.errors import ManifestError, MultipleInputErrors, SourceLocation
from nestr.manifest.groups import is_active
from nestr.manifest.model import Manifest, RepoSpec
from nestr.manifest.resolve import UrlRewrite, file_rewrites, resolve_file
from nestr.manifest.schema import ManifestFile, known_keys
from nestr.validation import translate
from nestr.yamlsource import KeyPath, YamlDocument, format_key_path, load_yaml_file, parse_yaml

MAX_IMPORT_DEPTH = 64
"""Most files in one chain of imports (the root included)."""


def load_manifest(path: Path) -> Manifest:
    """Read, validate and resolve the manifest at ``path``; :class:`ManifestError` if it is bad."""
    root = path.absolute()
    return _load(root, *read_manifest_file(root))


def load_manifest_text(text: str, path: Path) -> Manifest:
    """:func:`load_manifest` for ``text`` not (yet) on disk; imports are relative to ``path``."""
    root = path.absolute()
    return _load(root, *parse_manifest_text(text, root))


def _load(root: Path, doc: YamlDocument, model: ManifestFile) -> Manifest:
    tree = _ImportWalker().walk(root, doc, model, chain=(root.resolve(),), inherited=())
    repos = _merge(tree.repos)
    group_filter = tuple(tree.group_filter)
    return Manifest(
        path=root,
        repos=tuple(replace(r, active=is_active(r.groups, group_filter)) for r in repos),
        group_filter=group_filter,
        workflows=dict(model.workflows),
        sync=model.sync,
        document=doc,
        sources=tuple(path for path, _ in tree.sources),
        source_digests=tuple(digest for _, digest in tree.sources),
    )


def parse_manifest_text(text: str, path: Path) -> tuple[YamlDocument, ManifestFile]:
    """Parse and type-check manifest ``text`` (named ``path`` in errors)."""
    return _validate(parse_yaml(text, path, error=ManifestError))


def read_manifest_file(path: Path) -> tuple[YamlDocument, ManifestFile]:
    """Parse and type-check one manifest file (no imports, no cross-field checks)."""
    return _validate(load_yaml_file(path, error=ManifestError))


def _validate(doc: YamlDocument) -> tuple[YamlDocument, ManifestFile]:
    if not isinstance(doc.data, dict):
        found = "an empty file" if doc.data is None else f"a {type(doc.data).__name__}"
        raise ManifestError(
            f"expected a mapping with version: 1 and repos:; found {found}",
            location=doc.positions.get((), SourceLocation(file=doc.path, line=1, column=1)),
            hint="start the file with `version: 1`",
        )
    try:
        return doc, ManifestFile.model_validate(doc.data)
    except ValidationError as exc:
        raise translate(
            exc, locate=_locator(doc), error=ManifestError, known_keys=known_keys
        ) from None


def _locator(doc: YamlDocument) -> Callable[[KeyPath], SourceLocation]:
    """Unknown keys and wrong values are reported at their key (the start of the line)."""

    def locate(key_path: KeyPath) -> SourceLocation:
        if key_path and isinstance(key_path[-1], str) and key_path in doc.key_positions:
            return doc.key_positions[key_path]
        return doc.locate(key_path)

    return locate


@dataclass
class _Tree:
    repos: list[RepoSpec]
    group_filter: list[str]
    sources: list[tuple[Path, str | None]]  # each file read, with the digest of its text


class _ImportWalker:
    """Follows ``imports`` depth first, refusing cycles; each file is walked once."""

    def __init__(self) -> None:
        self.seen: set[Path] = set()

    def walk(
        self,
        path: Path,
        doc: YamlDocument,
        model: ManifestFile,
        *,
        chain: tuple[Path, ...],
        inherited: tuple[UrlRewrite, ...],
    ) -> _Tree:
        self.seen.add(chain[-1])
        rules = (*inherited, *file_rewrites(model, path.parent))
        repos, errors = resolve_file(model, doc, rules)
        _raise(errors)
        tree = _Tree(repos=repos, group_filter=[], sources=[(path, doc.digest)])
        for index, entry in enumerate(model.imports):
            target = self._target(path, doc, index, entry.path, chain)
            if target in self.seen:
                continue
            sub_doc, sub_model = read_manifest_file(target)
            sub = self.walk(target, sub_doc, sub_model, chain=(*chain, target), inherited=rules)
            tree.repos.extend(sub.repos)
            tree.group_filter.extend(sub.group_filter)
            tree.sources.extend(sub.sources)
        tree.group_filter.extend(model.group_filter)
        return tree

    @staticmethod
    def _target(
        path: Path, doc: YamlDocument, index: int, raw: str, chain: tuple[Path, ...]
    ) -> Path:
        key_path: KeyPath = ("imports", index, "path")
        target = (path.parent / raw).resolve()
        if target in chain:
            names = " → ".join(str(SourceLocation(file=p)) for p in (*chain, target))
            raise ManifestError(
                f"import cycle: {names}",
                location=doc.locate(key_path),
                field=format_key_path(key_path),
                hint="remove one of these imports",
            )
        if len(chain) >= MAX_IMPORT_DEPTH:
            raise ManifestError(
                f"imports nested too deeply: more than {MAX_IMPORT_DEPTH} files in a chain "
                f"starting at {SourceLocation(file=chain[0])}",
                location=doc.locate(key_path),
                field=format_key_path(key_path),
                hint="import the files from fewer levels",
            )
        if not _is_file(target):
            raise ManifestError(
                f"imported manifest {raw!r} not found ({target})",
                location=doc.locate(key_path),
                field=format_key_path(key_path),
                hint="import paths are relative to the importing file",
            )
        return target


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system, a directory that cannot be searched
        return False


def _merge(repos: list[RepoSpec]) -> list[RepoSpec]:
    """First definition of a name wins; two different repos at one path are an error."""
    by_name: set[str] = set()
    by_path: dict[str, RepoSpec] = {}
    kept: list[RepoSpec] = []
    errors: list[ManifestError] = []
    for spec in repos:
        if spec.name in by_name:
            continue
        by_name.add(spec.name)
        other = by_path.get(spec.path)
        if other is not None:
            errors.append(
                ManifestError(
                    f"repo {spec.name!r} has the same path {spec.path!r} as {other.name!r}",
                    location=spec.location,
                    field="path",
                    hint=f"{other.name!r} is defined at {other.location}; give each its own path",
                )
            )
            continue
        by_path[spec.path] = spec
        kept.append(spec)
    _raise(errors)
    return kept


def _raise(errors: list[ManifestError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultipleInputErrors(errors)
