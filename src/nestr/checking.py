"""Validate a manifest or its workflows completely, collecting every problem instead of raising.

Loading (``nestr.manifest.loader``, ``nestr.workflow.loading``, ``nestr.sync.rules``) stops at
the first stage that has problems, because later stages need what the earlier one builds. The
``validate`` commands want every problem at once, so the checks here run each part on its own:
the manifest's repos, each workflow, and the ``sync:`` section. A part whose neighbours are
broken is still checked from the raw YAML (workflows need nothing else; sync rules then skip
the checks that need the repos). The result is a :class:`ValidationReport` with the problems
in file order (``nestr.errors.by_position``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nestr.errors import (
    InputError,
    ManifestError,
    UsageError,
    by_position,
    did_you_mean,
    each_error,
)

if TYPE_CHECKING:
    from nestr.manifest.model import Manifest
    from nestr.yamlsource import YamlDocument


@dataclass(frozen=True)
class ValidationReport:
    """What a validation looked at and every problem found, in file order."""

    manifest: Path | None  # the manifest file, None when none was found
    errors: tuple[InputError, ...] = ()
    repos: int | None = None  # repos of the manifest; None when they did not load
    active: int | None = None
    workflows: tuple[str, ...] = ()  # the workflows checked, by name

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``manifest validate`` and ``workflow validate``."""
        return {
            "valid": self.valid,
            "errors": [error_dict(e) for e in self.errors],
            "manifest": str(self.manifest) if self.manifest else None,
            "repos": self.repos,
            "active": self.active,
            "workflows": list(self.workflows),
        }


def error_dict(error: InputError) -> dict[str, Any]:
    """One problem as JSON: where (``file``, ``line``, ``column``), ``field``, what, ``hint``."""
    where = error.location
    return {
        "file": str(where.file) if where and where.file else None,
        "line": where.line if where else None,
        "column": where.column if where else None,
        "field": error.field,
        "message": error.detail,
        "hint": error.hint,
    }


def check_manifest(path: Path, *, step_types: Collection[str] | None = None) -> ValidationReport:
    """Every problem of the manifest at ``path``: repos and imports, ``workflows:``, ``sync:``.

    ``step_types``: the step types workflows may use (a session's ``steps``, plugins included);
    None: the installed entry points."""
    from nestr.workflow.loading import check_sources, collect_sources

    manifest, document, errors = _load(path)
    workflows = _section(document, "workflows")
    sources, problems = collect_sources(path, document, workflows, directory=False)
    checked = check_sources(sources, step_types=step_types)[1]
    errors += problems + checked + _sync_problems(path, manifest, document)
    return _report(path, manifest, errors, tuple(sources))


def check_workflows(
    path: Path, name: str | None = None, *, step_types: Collection[str] | None = None
) -> ValidationReport:
    """Every problem of the workflows of the manifest at ``path`` (or of the one named ``name``).

    The manifest's own problems are part of the report: workflows are read from it.
    ``step_types`` as for :func:`check_manifest`.
    """
    from nestr.workflow.loading import check_sources, collect_sources

    manifest, document, errors = _load(path)
    sources, problems = collect_sources(path, document, _section(document, "workflows"))
    errors += problems
    if name is not None:
        if name not in sources:
            errors.append(_unknown_workflow(name, path, sorted(sources)))
        sources = {k: v for k, v in sources.items() if k == name}
    errors += check_sources(sources, step_types=step_types)[1]
    return _report(path, manifest, errors, tuple(sources))


def _load(path: Path) -> tuple[Manifest | None, YamlDocument | None, list[InputError]]:
    """The manifest if it loads, else its problems; and the root file's YAML either way."""
    from nestr.manifest.loader import load_manifest
    from nestr.yamlsource import load_yaml_file

    try:
        manifest = load_manifest(path)
    except InputError as exc:
        errors = each_error(exc)
    else:
        return manifest, manifest.document, []
    try:
        document = load_yaml_file(path, error=ManifestError)
    except InputError:  # unreadable or not YAML: that is the problem already reported
        return None, None, errors
    from nestr.manifest.outline import repo_problems

    return None, document, errors + repo_problems(document)


def _section(document: YamlDocument | None, key: str) -> Mapping[Any, Any]:
    data = document.data if document is not None else None
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}  # another type: the manifest reports it


def _sync_problems(
    path: Path, manifest: Manifest | None, document: YamlDocument | None
) -> list[InputError]:
    from nestr.manifest.model import Manifest
    from nestr.sync.rules import check_sync_config

    if manifest is not None:
        return check_sync_config(manifest)[1]
    data = document.data if document is not None else None
    raw = data.get("sync") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        return []  # no sync: section, or one of another type (the manifest reports that)
    stand_in = Manifest(path=path, repos=(), sync=raw, document=document)
    return check_sync_config(stand_in, repos_known=False)[1]


def _unknown_workflow(name: str, path: Path, known: list[str]) -> UsageError:
    hint = did_you_mean(name, known) or ("known workflows: " + (", ".join(known) or "none"))
    return UsageError(f"no workflow named {name!r} in {path}", hint=hint)


def _report(
    path: Path, manifest: Manifest | None, errors: list[InputError], workflows: tuple[str, ...]
) -> ValidationReport:
    def file_rank(error: InputError) -> tuple[bool, str]:
        where = error.location.file if error.location else None
        return where != path, str(where or "")

    # the manifest first, then other files by path (by_position keeps files in first-seen order)
    return ValidationReport(
        manifest=path,
        errors=tuple(by_position(sorted(errors, key=file_rank))),
        repos=len(manifest.repos) if manifest else None,
        active=len(manifest.active_repos()) if manifest else None,
        workflows=workflows,
    )
