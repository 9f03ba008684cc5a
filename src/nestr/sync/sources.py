"""Where each rule's files come from and where they go in a target repo.

A source is a directory beside the manifest or the workspace checkout of a manifest repo (a
"config repo"), whose commit is recorded as the source's revision. Expanding a rule lists its
source files (globs included) and maps each to a destination path inside the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nestr.errors import InputError, UsageError
from nestr.git.runner import run_git
from nestr.manifest.model import Manifest
from nestr.sync.rules import SyncConfig, SyncRule, is_glob
from nestr.workspace.record import Workspace

TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2")


@dataclass(frozen=True)
class ResolvedSource:
    """A source as found on disk: its directory and, for a config repo, its commit."""

    name: str
    directory: Path
    revision: str | None = None
    repo: str | None = None


@dataclass(frozen=True)
class SourceFile:
    """One file a rule brings: its path in the source and its destination in the target."""

    rule: SyncRule
    path: str  # POSIX, relative to the source directory
    dest: str  # POSIX, relative to the target repo root
    absolute: Path


async def resolve_sources(
    config: SyncConfig, manifest: Manifest, workspace: Workspace, *, timeout: float
) -> dict[str, ResolvedSource]:
    """Every source of ``config`` located on disk (config repos in ``workspace``)."""
    resolved: dict[str, ResolvedSource] = {}
    for source in config.sources:
        if source.directory is not None:
            resolved[source.name] = ResolvedSource(source.name, source.directory)
            continue
        assert source.repo is not None
        checkout = workspace.repo_dir(manifest.repo(source.repo))
        if not (checkout / ".git").exists():
            raise UsageError(
                f"sync source {source.name!r}: repo {source.repo!r} is not checked out "
                f"at {checkout}",
                hint="run `nestr assemble` first",
            )
        head = await run_git(["rev-parse", "HEAD"], cwd=checkout, timeout=timeout)
        resolved[source.name] = ResolvedSource(
            source.name, checkout.resolve(), head.stdout.strip(), source.repo
        )
    return resolved


def expand_rule(rule: SyncRule, source: ResolvedSource) -> list[SourceFile]:
    """The files ``rule`` brings from ``source``, each with its destination path."""
    many = len(rule.files) > 1 or any(is_glob(f) for f in rule.files)
    found: list[SourceFile] = []
    for pattern in rule.files:
        for path in _matches(rule, source.directory, pattern):
            rel = path.relative_to(source.directory).as_posix()
            dest = _destination(rule, pattern, rel, many=many)
            found.append(SourceFile(rule, rel, dest, path))
    return found


def _matches(rule: SyncRule, directory: Path, pattern: str) -> list[Path]:
    if not is_glob(pattern):
        path = directory / pattern
        if not path.is_file():
            raise InputError(
                f"no file {pattern!r} in sync source {rule.source!r} ({directory})",
                location=rule.location,
                field=f"sync.rules[{rule.index}].files",
                hint="fix the path, or remove it from the rule",
            )
        return [_inside(rule, directory, path)]
    hits = [p for p in sorted(directory.glob(pattern)) if p.is_file() and ".git" not in p.parts]
    return [_inside(rule, directory, p) for p in hits]


def _inside(rule: SyncRule, directory: Path, path: Path) -> Path:
    """``path``, refused when a symlink makes it lead outside the source directory."""
    if not path.resolve().is_relative_to(directory.resolve()):
        raise InputError(
            f"{path} leads outside sync source {rule.source!r} (symlink)",
            location=rule.location,
            field=f"sync.rules[{rule.index}].files",
        )
    return path


def _destination(rule: SyncRule, pattern: str, rel: str, *, many: bool) -> str:
    if rule.dest is None:
        return _strip_template(rule, rel)
    if not many:
        return PurePosixPath(rule.dest).as_posix()
    return (
        PurePosixPath(rule.dest) / _strip_template(rule, _below_prefix(pattern, rel))
    ).as_posix()


def _below_prefix(pattern: str, rel: str) -> str:
    """``rel`` relative to the part of ``pattern`` before its first glob character."""
    prefix_parts = []
    for part in PurePosixPath(pattern).parts[:-1]:
        if is_glob(part):
            break
        prefix_parts.append(part)
    if not is_glob(pattern):
        return PurePosixPath(rel).name
    return PurePosixPath(rel).relative_to(*prefix_parts).as_posix() if prefix_parts else rel


def _strip_template(rule: SyncRule, rel: str) -> str:
    if rule.template:
        for suffix in TEMPLATE_SUFFIXES:
            if rel.endswith(suffix):
                return rel[: -len(suffix)]
    return rel
