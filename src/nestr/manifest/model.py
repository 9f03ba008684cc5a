"""The resolved manifest: what a workspace is made of, after defaults, imports and rewrites.

These frozen dataclasses are the domain values every other package reads (workspace, workflow,
sync). Parsing and validating ``nestr.yaml`` into them is ``nestr.manifest.loader``'s job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nestr.errors import SourceLocation, UsageError, did_you_mean

if TYPE_CHECKING:
    from nestr.yamlsource import YamlDocument


@dataclass(frozen=True)
class CloneOptions:
    """How a repo is fetched: ``depth`` for shallow clones, ``filter`` for partial clones."""

    depth: int | None = None
    filter: str | None = None


@dataclass(frozen=True)
class RepoSpec:
    """One repository of the manifest, fully resolved."""

    name: str
    url: str  # after remote url_base and url_rewrites
    revision: str  # branch, tag or commit, as written (defaults applied)
    path: str  # POSIX path relative to the workspace root; no "..", not absolute
    groups: tuple[str, ...] = ()
    clone: CloneOptions = field(default_factory=CloneOptions)
    active: bool = True  # after the group filter
    vars: Mapping[str, Any] = field(default_factory=dict)  # per-repo variables (sync templates)
    location: SourceLocation = field(default_factory=SourceLocation)  # where it is defined

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a repo (``nestr manifest show --json``, docs/manifest.md)."""
        return {
            "name": self.name,
            "path": self.path,
            "url": self.url,
            "revision": self.revision,
            "groups": list(self.groups),
            "active": self.active,
            "clone": {"depth": self.clone.depth, "filter": self.clone.filter},
            "vars": dict(self.vars),
            "defined_at": str(self.location),
        }


@dataclass(frozen=True)
class Manifest:
    """A loaded ``nestr.yaml``: repos in definition order (imports appended, first name wins)."""

    path: Path  # the root manifest file, absolute
    repos: tuple[RepoSpec, ...]
    group_filter: tuple[str, ...] = ()
    workflows: Mapping[str, Any] = field(default_factory=dict)  # raw; nestr.workflow validates
    sync: Mapping[str, Any] | None = None  # raw; nestr.sync validates
    document: YamlDocument | None = None  # the root file, for positions of raw sections
    sources: tuple[Path, ...] = ()  # every file read: the root, then its imports
    source_digests: tuple[str | None, ...] = ()  # of the text parsed from each of ``sources``

    @property
    def root(self) -> Path:
        """The directory holding the manifest (relative paths in it are relative to this)."""
        return self.path.parent

    def repo(self, name: str) -> RepoSpec:
        for spec in self.repos:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def active_repos(self) -> list[RepoSpec]:
        return [r for r in self.repos if r.active]

    def checkout_order(self, repos: Iterable[RepoSpec] | None = None) -> list[RepoSpec]:
        """``repos`` (default: all) with every parent path before the repos nested inside it.

        west's zephyr manifest nests ``tools/bsim/components/ext_*`` inside
        ``tools/bsim/components``: the parent must be cloned first. Otherwise the order is kept.
        """
        from nestr.manifest.paths import parents_first

        chosen = list(self.repos if repos is None else repos)
        return parents_first(chosen, lambda spec: spec.path)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``nestr manifest show --json`` (docs/manifest.md)."""
        return {
            "manifest": str(self.path),
            "group_filter": list(self.group_filter),
            "repos": [spec.to_dict() for spec in self.repos],
        }

    def _check_selection(self, groups: set[str], names: set[str]) -> None:
        """A usage error naming the first unknown repo, else the first group nobody is in."""
        known = [r.name for r in self.repos]
        unknown = sorted(names - set(known))
        if unknown:
            name = unknown[0]
            raise UsageError(
                f"unknown repo {name!r}: no repo of that name in {self.path}",
                hint=did_you_mean(name, known) or f"known repos: {', '.join(known) or 'none'}",
            )
        in_use = sorted({g for r in self.repos for g in r.groups})
        missing = sorted(groups - set(in_use))
        if missing:
            group = missing[0]
            raise UsageError(
                f"unknown group {group!r}: no repo of {self.path} is in that group",
                hint=did_you_mean(group, in_use) or f"known groups: {', '.join(in_use) or 'none'}",
            )

    def select(
        self,
        *,
        groups: Iterable[str] = (),
        names: Iterable[str] = (),
        exclude: Iterable[str] = (),
        include_inactive: bool = False,
    ) -> list[RepoSpec]:
        """Repos matching any of ``groups`` or ``names`` (all active repos if both are empty).

        A repo named explicitly is selected even when the group filter made it inactive. An
        unknown name or a group no repo is in is a :class:`~nestr.errors.UsageError` with a
        suggestion: the one message every selection (``--repo``, ``-g``, a workflow's
        ``foreach``) gives.
        """
        wanted_groups, wanted_names, excluded = set(groups), set(names), set(exclude)
        self._check_selection(wanted_groups, wanted_names)
        chosen = []
        for spec in self.repos:
            if spec.name in excluded:
                continue
            if not wanted_groups and not wanted_names:
                hit = spec.active or include_inactive
            else:
                hit = spec.name in wanted_names or (
                    (spec.active or include_inactive) and bool(wanted_groups & set(spec.groups))
                )
            if hit:
                chosen.append(spec)
        return chosen
