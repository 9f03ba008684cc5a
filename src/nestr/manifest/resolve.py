"""From one validated manifest file to resolved repos: defaults, remotes, URLs, paths.

pydantic has checked each field's type; this module checks what spans fields (the remote a repo
names exists, ``url`` and ``remote`` are not both set, names and paths are unique, paths stay in
the workspace) and collects every problem of the file, each located at its YAML node.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nestr.errors import ManifestError, did_you_mean
from nestr.manifest.model import CloneOptions, RepoSpec
from nestr.manifest.paths import BadPath, check_repo_name, normalize_repo_path
from nestr.manifest.schema import CloneSection, ManifestFile, RepoSection
from nestr.yamlsource import KeyPath, YamlDocument, format_key_path

DEFAULT_REVISION = "main"


@dataclass(frozen=True)
class UrlRewrite:
    """Replace the prefix ``old`` of a URL with ``new``.

    ``base`` is the directory of the file that holds the rule: a ``new`` that makes a relative
    local path is relative to it.
    """

    old: str
    new: str
    base: Path | None = None


def rewrite_url(url: str, rewrites: Iterable[UrlRewrite], base: Path | None = None) -> str:
    """``url`` after the first rule whose prefix matches (unchanged if none does).

    A result that is a relative local path is made absolute against the directory of the file
    that wrote it (``base`` for ``url`` itself, the rule's own for a rewritten one): git would
    otherwise resolve it from wherever it runs, the mirror cache.
    """
    for rule in rewrites:
        if url.startswith(rule.old):
            return local_url(rule.new + url[len(rule.old) :], rule.base)
    return local_url(url, base)


def local_url(url: str, base: Path | None) -> str:
    """``url`` made absolute against ``base`` if it is a relative local path (as git sees it)."""
    if base is None or not url or "://" in url or url.startswith(("/", "~")):
        return url
    colon, slash = url.find(":"), url.find("/")
    if colon != -1 and (slash == -1 or colon < slash):  # host:path (scp-like) or a transport::
        return url
    return os.path.normpath(base / url)


def file_rewrites(model: ManifestFile, base: Path | None = None) -> list[UrlRewrite]:
    """The ``url_rewrites`` of one file (in directory ``base``), in order."""
    return [UrlRewrite(rule.from_, rule.to, base) for rule in model.url_rewrites]


class _FileResolver:
    """Resolves the repos of one file; collects errors instead of stopping at the first."""

    def __init__(
        self, model: ManifestFile, doc: YamlDocument, rewrites: Sequence[UrlRewrite]
    ) -> None:
        self.model, self.doc, self.rewrites = model, doc, rewrites
        self.errors: list[ManifestError] = []
        self.remotes = self._remotes()

    def error(self, key_path: KeyPath, message: str, hint: str | None = None) -> None:
        self.errors.append(
            ManifestError(
                message,
                location=self.doc.locate(key_path),
                field=format_key_path(key_path),
                hint=hint,
            )
        )

    def _remotes(self) -> dict[str, str]:
        remotes: dict[str, str] = {}
        for index, remote in enumerate(self.model.remotes):
            if remote.name in remotes:
                self.error(
                    ("remotes", index, "name"),
                    f"remote {remote.name!r} is defined twice",
                    "give each remote a different name",
                )
            remotes.setdefault(remote.name, remote.url_base.rstrip("/"))
        return remotes

    def check_remote(self, key_path: KeyPath, name: str) -> bool:
        if name in self.remotes:
            return True
        known = sorted(self.remotes)
        hint = did_you_mean(name, known) or (
            f"defined remotes: {', '.join(known)}" if known else "add it under remotes:"
        )
        self.error(key_path, f"unknown remote {name!r}", hint)
        return False

    def repos(self) -> list[RepoSpec]:
        defaults = self.model.defaults
        if defaults is not None and defaults.remote is not None:
            self.check_remote(("defaults", "remote"), defaults.remote)
        specs: list[RepoSpec] = []
        names: dict[str, int] = {}
        paths: dict[str, int] = {}
        for index, repo in enumerate(self.model.repos):
            if repo.name in names:
                first = self.doc.locate(("repos", names[repo.name], "name"))
                self.error(
                    ("repos", index, "name"),
                    f"repo {repo.name!r} is defined twice",
                    f"it is first defined at {first}; rename or remove one",
                )
                continue
            names[repo.name] = index
            spec = self.repo(index, repo)
            if spec is None:
                continue
            if spec.path in paths:
                self.duplicate_path(index, repo, paths[spec.path])
                continue
            paths[spec.path] = index
            specs.append(spec)
        return specs

    def duplicate_path(self, index: int, repo: RepoSection, first: int) -> None:
        other = self.model.repos[first]
        key = "path" if repo.path is not None else "name"
        self.error(
            ("repos", index, key),
            f"repo {repo.name!r} has the same path as {other.name!r}",
            f"{other.name!r} is at {self.doc.locate(('repos', first))}; "
            "give each repo its own path",
        )

    def repo(self, index: int, repo: RepoSection) -> RepoSpec | None:
        try:
            check_repo_name(repo.name)
        except BadPath as exc:
            self.error(("repos", index, "name"), str(exc), exc.hint)
            return None
        url = self.url(index, repo)
        path = self.path(index, repo)
        if url is None or path is None:
            return None
        return RepoSpec(
            name=repo.name,
            url=rewrite_url(url, self.rewrites, self.doc.path.parent),
            revision=repo.revision or self._default_revision(),
            path=path,
            groups=tuple(repo.groups),
            clone=self.clone(repo.clone),
            vars=dict(repo.vars),
            location=self.doc.locate(("repos", index)),
        )

    def _default_revision(self) -> str:
        defaults = self.model.defaults
        return (defaults.revision if defaults else None) or DEFAULT_REVISION

    def url(self, index: int, repo: RepoSection) -> str | None:
        where: KeyPath = ("repos", index)
        if repo.url is not None:
            if repo.remote is not None or repo.repo_path is not None:
                extra = "remote" if repo.remote is not None else "repo_path"
                self.error(
                    (*where, extra),
                    f"set either url or {extra}, not both",
                    f"remove {extra}, or remove url to build it from the remote",
                )
                return None
            return repo.url
        remote = repo.remote
        if remote is None and self.model.defaults is not None:
            remote = self.model.defaults.remote
        if remote is None:
            self.error(
                where,
                f"repo {repo.name!r} has neither url nor remote",
                "add url: <clone URL>, remote: <name>, or defaults.remote",
            )
            return None
        if repo.remote is not None and not self.check_remote((*where, "remote"), remote):
            return None
        if remote not in self.remotes:  # a bad defaults.remote is reported once, above
            return None
        return f"{self.remotes[remote]}/{(repo.repo_path or repo.name).strip('/')}"

    def path(self, index: int, repo: RepoSection) -> str | None:
        try:
            return normalize_repo_path(repo.path or repo.name)
        except BadPath as exc:
            key = "path" if repo.path is not None else "name"
            self.error(("repos", index, key), str(exc), exc.hint)
            return None

    def clone(self, own: CloneSection | None) -> CloneOptions:
        defaults = self.model.defaults
        base = defaults.clone if defaults is not None else None
        depth = own.depth if own and own.depth is not None else (base.depth if base else None)
        filt = own.filter if own and own.filter is not None else (base.filter if base else None)
        return CloneOptions(depth=depth, filter=filt)


def resolve_file(
    model: ManifestFile, doc: YamlDocument, rewrites: Sequence[UrlRewrite]
) -> tuple[list[RepoSpec], list[ManifestError]]:
    """Repos of one file with defaults, remotes and ``rewrites`` applied, and the errors found."""
    resolver = _FileResolver(model, doc, rewrites)
    specs = resolver.repos()
    return specs, resolver.errors
