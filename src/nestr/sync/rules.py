"""Sync rules as domain values, validated against the manifest they come from.

:func:`load_sync_config` turns ``Manifest.sync`` (raw YAML data) into a :class:`SyncConfig`;
every problem is a :class:`ManifestError` naming ``file:line:col`` and the field. Checks made
here: shapes (pydantic, :mod:`nestr.sync.schema`), unique source names, sources that exist,
rules naming known sources and repos, and destinations that stay inside the target repo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from nestr.errors import (
    InputError,
    ManifestError,
    MultipleInputErrors,
    SourceLocation,
    did_you_mean,
    each_error,
)
from nestr.manifest.model import Manifest, RepoSpec
from nestr.sync.planner import Policy
from nestr.sync.schema import RuleSection, SourceSection, SyncSection, known_keys
from nestr.validation import translate
from nestr.yamlsource import KeyPath, format_key_path

_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True)
class SyncSource:
    """A resolved source: a directory beside the manifest, or a repo of the manifest."""

    name: str
    directory: Path | None = None  # kind "dir": absolute path
    repo: str | None = None  # kind "repo": the manifest repo whose checkout holds the files

    @property
    def kind(self) -> str:
        return "repo" if self.repo is not None else "dir"


@dataclass(frozen=True)
class RepoSelector:
    """Which repos a rule targets (None fields: ``repos: all``)."""

    names: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    everything: bool = True

    def pick(self, manifest: Manifest) -> list[RepoSpec]:
        if self.everything:
            return manifest.select(exclude=self.exclude)
        return manifest.select(names=self.names, groups=self.groups, exclude=self.exclude)


@dataclass(frozen=True)
class SyncRule:
    """One rule: files of a source, where they go in the selected repos, and how."""

    index: int
    source: str
    files: tuple[str, ...]
    dest: str | None
    template: bool
    selector: RepoSelector
    policy: Policy
    mode: int | None
    delete: bool
    block: str | None
    location: SourceLocation = field(default_factory=SourceLocation)


@dataclass(frozen=True)
class SyncConfig:
    """The validated ``sync:`` section."""

    sources: tuple[SyncSource, ...]
    vars: Mapping[str, Any]
    rules: tuple[SyncRule, ...]

    def source(self, name: str) -> SyncSource:
        return next(s for s in self.sources if s.name == name)


class _Locator:
    """Positions in the manifest's ``sync:`` section, and the problems found there."""

    def __init__(self, manifest: Manifest, *, repos_known: bool = True) -> None:
        self.manifest = manifest
        self.repos_known = repos_known  # False: the repos did not load; names cannot be judged
        self.problems: list[InputError] = []

    def __call__(self, key_path: KeyPath) -> SourceLocation:
        """Where pydantic's complaint about ``key_path`` points: at its key when it has one."""
        doc = self.manifest.document
        if doc is None:
            return SourceLocation(file=self.manifest.path)
        full = ("sync", *key_path)
        if key_path and isinstance(key_path[-1], str) and full in doc.key_positions:
            return doc.key_positions[full]
        return doc.locate(full)

    def error(self, key_path: KeyPath, message: str, hint: str | None = None) -> None:
        """Record a problem at ``key_path`` (relative to ``sync``)."""
        doc = self.manifest.document
        where = doc.locate(("sync", *key_path)) if doc else SourceLocation(file=self.manifest.path)
        field_ = format_key_path(("sync", *key_path))
        self.problems.append(ManifestError(message, location=where, field=field_, hint=hint))


def load_sync_config(manifest: Manifest) -> SyncConfig:
    """Validate ``manifest.sync``; an empty config when the manifest has no ``sync:``."""
    config, errors = check_sync_config(manifest)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultipleInputErrors(errors)
    return config


def check_sync_config(
    manifest: Manifest, *, repos_known: bool = True
) -> tuple[SyncConfig, list[InputError]]:
    """The config and every problem of ``manifest.sync``; the config is usable only without.

    A source or rule with a wrong field is reported once and left out; the others are still
    checked. ``repos_known=False`` (the manifest's repos did not load) skips the checks that
    need the repos: repo names and groups.
    """
    locate = _Locator(manifest, repos_known=repos_known)
    if manifest.sync is None:
        return SyncConfig(sources=(), vars={}, rules=()), []
    try:
        section = SyncSection.model_validate(manifest.sync)
    except ValidationError as exc:
        problems = translate(
            exc,
            locate=lambda p: locate(tuple(p)),
            error=ManifestError,
            known_keys=known_keys,
            field_prefix=("sync",),
        )
        locate.problems.extend(each_error(problems))
        typed_sources = _typed(SourceSection, manifest.sync.get("sources"))
        typed_rules = _typed(RuleSection, manifest.sync.get("rules"))
        variables: dict[str, Any] = {}
    else:
        typed_sources, typed_rules = list(section.sources), list(section.rules)
        variables = dict(section.vars)
    indexed = {i: _source(manifest, locate, i, s) for i, s in enumerate(typed_sources) if s}
    _unique_names(locate, indexed)
    sources = tuple(indexed.values())
    # a rule naming a source whose own fields are wrong must not be blamed for it
    names = [s.name for s in sources] if sources and len(sources) == len(typed_sources) else None
    rules = tuple(_rule(manifest, locate, names, i, r) for i, r in enumerate(typed_rules) if r)
    return SyncConfig(sources=sources, vars=variables, rules=rules), locate.problems


def _typed(model: type[_M], raw: Any) -> list[_M | None]:
    """Each item of the list ``raw`` as ``model``, None where it has wrong fields."""
    if not isinstance(raw, list):
        return []
    typed: list[_M | None] = []
    for item in raw:
        try:
            typed.append(model.model_validate(item))
        except ValidationError:
            typed.append(None)
    return typed


def _source(manifest: Manifest, locate: _Locator, index: int, raw: SourceSection) -> SyncSource:
    if raw.repo is not None:
        known = [r.name for r in manifest.repos]
        if locate.repos_known and raw.repo not in known:
            locate.error(
                ("sources", index, "repo"),
                f"no repo named {raw.repo!r} in the manifest",
                did_you_mean(raw.repo, known),
            )
        return SyncSource(name=raw.name or raw.repo, repo=raw.repo)
    assert raw.path is not None
    directory = (manifest.root / raw.path).resolve()
    if not directory.is_dir():
        locate.error(
            ("sources", index, "path"),
            f"source directory {directory} does not exist",
            "create it beside the manifest, or fix the path",
        )
    return SyncSource(name=raw.name or raw.path, directory=directory)


def _unique_names(locate: _Locator, sources: dict[int, SyncSource]) -> None:
    seen: set[str] = set()
    for index, source in sources.items():
        if source.name in seen:
            locate.error(
                ("sources", index), f"two sources are named {source.name!r}", "set `name:`"
            )
        seen.add(source.name)


def _rule(
    manifest: Manifest,
    locate: _Locator,
    sources: list[str] | None,
    index: int,
    raw: RuleSection,
) -> SyncRule:
    where: KeyPath = ("rules", index)
    source = raw.source or (sources[0] if sources else "")
    if sources is not None and source not in sources:
        locate.error(
            (*where, "source"),
            f"no source named {source!r}; sources are {', '.join(sources)}",
            did_you_mean(source, sources),
        )
    for i, pattern in enumerate(raw.files):
        _check_relative(locate, (*where, "files", i), pattern)
    if raw.dest is not None:
        _check_relative(locate, (*where, "dest"), raw.dest)
    if raw.policy == "managed-block" and _is_many(raw.files, raw.dest):
        locate.error((*where, "files"), "a managed-block rule takes exactly one file (no glob)")
    return SyncRule(
        index=index,
        source=source,
        files=tuple(raw.files),
        dest=raw.dest,
        template=raw.template,
        selector=_selector(manifest, locate, where, raw),
        policy=Policy(raw.policy),
        mode=int(raw.mode, 8) if raw.mode is not None else None,
        delete=raw.delete,
        block=raw.block,
        location=locate(where),
    )


def _is_many(files: list[str], dest: str | None) -> bool:
    return len(files) > 1 or any(is_glob(f) for f in files)


def is_glob(pattern: str) -> bool:
    """True when ``pattern`` has glob characters."""
    return any(ch in pattern for ch in "*?[")


def _check_relative(locate: _Locator, key_path: KeyPath, value: str) -> None:
    path = PurePosixPath(value)
    if not value.strip() or path.is_absolute() or value.startswith("~") or "\\" in value:
        locate.error(
            key_path,
            f"expected a relative path inside the repo; got {value!r}",
            "write a path relative to the repo root, with / separators",
        )
    elif ".." in path.parts:
        locate.error(key_path, f"{value!r} leads outside the repo ('..')", "remove the '..' parts")
    elif path.parts and path.parts[0] == ".git":
        locate.error(key_path, f"{value!r} is inside .git", "choose another path")
    elif path.parts and path.parts[0] == ".nestr":
        locate.error(
            key_path,
            f"{value!r} is inside .nestr, where nestr keeps the sync lock",
            "choose another path",
        )


def _selector(
    manifest: Manifest, locate: _Locator, where: KeyPath, raw: RuleSection
) -> RepoSelector:
    if raw.repos == "all":
        return RepoSelector()
    known = [r.name for r in manifest.repos]
    for key in ("names", "exclude"):
        for i, name in enumerate(getattr(raw.repos, key)):
            if locate.repos_known and name not in known:
                locate.error(
                    (*where, "repos", key, i),
                    f"no repo named {name!r} in the manifest",
                    did_you_mean(name, known),
                )
    groups = sorted({g for r in manifest.repos for g in r.groups})
    for i, group in enumerate(raw.repos.groups):
        if locate.repos_known and group not in groups:
            locate.error(
                (*where, "repos", "groups", i),
                f"no repo is in group {group!r}",
                did_you_mean(group, groups),
            )
    return RepoSelector(
        names=tuple(raw.repos.names),
        groups=tuple(raw.repos.groups),
        exclude=tuple(raw.repos.exclude),
        everything=False,
    )
