"""Shell completion of names from the manifest: repos (``--repo``), groups (``-g``), workflows.

Click completes commands, options and paths by itself (``_NESTR_COMPLETE=bash_source nestr``,
see docs/cli.md); these functions add the names only the manifest knows. The manifest is the one
the command would read: ``-m`` if already typed, else the workspace of ``-w``, else
``nestr.yaml`` found upward (from ``-C DIR`` if given), else the enclosing workspace's.

A completion runs on every Tab press and must never fail: a missing or broken manifest gives
no suggestions, never a traceback in the middle of the user's command line. Repos come from
the input cache, so a completion in an unchanged project reads one small JSON file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from nestr.manifest.model import Manifest


def complete_repo_names(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Names of the manifest's repos, each with its path as help."""
    manifest = _quietly(lambda: _manifest(ctx))
    if manifest is None:
        return []
    return _matching(((r.name, r.path) for r in manifest.repos), incomplete)


def complete_group_names(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Every group some repo of the manifest is in."""
    manifest = _quietly(lambda: _manifest(ctx))
    if manifest is None:
        return []
    groups = dict.fromkeys(g for r in manifest.repos for g in r.groups)
    return _matching(((g, None) for g in groups), incomplete)


def complete_workflow_names(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Names of the workflows (manifest and ``workflows/*.yaml``), with their descriptions."""
    sources = _quietly(lambda: _workflow_sources(_manifest_path(ctx)))
    return _matching((sources or {}).items(), incomplete)


def _workflow_sources(path: Path) -> dict[str, str | None]:
    """Workflow names and first description lines, as ``workflow_sources`` finds them.

    Read from the raw YAML (the manifest's ``workflows:``, then ``workflows/*.y*ml`` named by
    their ``name:`` or file stem): importing ``nestr.workflow`` to validate would cost more
    than the rest of a completion.
    """
    from nestr.yamlsource import load_yaml_file

    data = load_yaml_file(path).data
    section = data.get("workflows") if isinstance(data, dict) else None
    found = {str(k): v for k, v in section.items()} if isinstance(section, dict) else {}
    directory = path.parent / "workflows"
    for file in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        raw = _quietly(lambda file=file: load_yaml_file(file).data)
        named = raw.get("name") if isinstance(raw, dict) else None
        found.setdefault(named if isinstance(named, str) else file.stem, raw)
    return {name: _first_line(raw) for name, raw in found.items()}


def _first_line(raw: Any) -> str | None:
    text = raw.get("description") if isinstance(raw, dict) else None
    return text.strip().splitlines()[0] if isinstance(text, str) and text.strip() else None


def _matching(
    candidates: Iterable[tuple[str, str | None]], incomplete: str
) -> list[CompletionItem]:
    from click.shell_completion import CompletionItem  # here: only a completion needs it

    return [
        CompletionItem(name, help=help_)
        for name, help_ in candidates
        if isinstance(name, str) and name.startswith(incomplete)
    ]


def _quietly(work: Any) -> Any:
    """``work()``, or None on any error: completion never breaks the user's shell."""
    try:
        return work()
    except Exception:  # a bad manifest, a missing directory, a bug: no suggestions
        return None


def _manifest(ctx: click.Context) -> Manifest:
    from nestr.manifest.cache import load_manifest_repos

    return load_manifest_repos(_manifest_path(ctx))


def _manifest_path(ctx: click.Context) -> Path:
    """The manifest the command being completed would read (see the module docstring)."""
    from nestr.workspace.locate import manifest_path

    root_params = ctx.find_root().params
    base = Path.cwd()
    if root_params.get("directory") is not None:  # -C is not applied while completing
        base = (base / root_params["directory"]).resolve()
    return manifest_path(base, ctx.params.get("manifest_path"), ctx.params.get("workspace_dir"))
