"""Find and load workflow definitions: ``workflows:`` in the manifest and ``workflows/*.yaml``.

Each definition is type-checked by the pydantic boundary model (``nestr.workflow.schema``), turned
into frozen ``nestr.workflow.model`` values with defaults applied, then validated as a DAG. Every
error names the ``file:line:col`` of the value that is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nestr.errors import SourceLocation, UsageError, WorkflowDefinitionError, did_you_mean
from nestr.workflow.model import (
    DEFAULT_RETRY,
    SHELL_STEP,
    InputDef,
    RepoSelector,
    RetryPolicy,
    StepDef,
    Workflow,
)
from nestr.workflow.validate import validate_workflow
from nestr.yamlsource import KeyPath, YamlDocument, load_yaml_file

if TYPE_CHECKING:
    from nestr.manifest.model import Manifest
    from nestr.workflow.schema import RetrySection, StepSection, WorkflowSection

WORKFLOW_DIR = "workflows"


@dataclass(frozen=True)
class WorkflowSource:
    """One unparsed definition and how to locate its values."""

    name: str
    raw: Any
    path: Path
    locate: Callable[[KeyPath], SourceLocation]
    field_prefix: KeyPath = ()  # ("workflows", NAME) inside a manifest; () in its own file


def workflow_sources(manifest: Manifest) -> dict[str, WorkflowSource]:
    """Every definition by name: the manifest's first, then ``workflows/*.yaml`` beside it."""
    sources: dict[str, WorkflowSource] = {}
    for name, raw in manifest.workflows.items():
        sources[str(name)] = WorkflowSource(
            str(name),
            raw,
            manifest.path,
            _locator(manifest.document, manifest.path, name),
            ("workflows", str(name)),
        )
    directory = manifest.root / WORKFLOW_DIR
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in files:
        document = load_yaml_file(path, error=WorkflowDefinitionError)
        name = path.stem
        if isinstance(document.data, dict) and isinstance(document.data.get("name"), str):
            name = document.data["name"]
        if name in sources:
            raise WorkflowDefinitionError(
                f"workflow {name!r} is defined twice (also in {sources[name].path})",
                location=document.locate(("name",)),
            )
        sources[name] = WorkflowSource(name, document.data, path, _locator(document, path, None))
    return sources


def _locator(
    document: YamlDocument | None, path: Path, name: str | None
) -> Callable[[KeyPath], SourceLocation]:
    prefix: KeyPath = ("workflows", name) if name is not None else ()

    def locate(key_path: KeyPath) -> SourceLocation:
        if document is None:
            return SourceLocation(file=path)
        return document.locate((*prefix, *key_path))

    return locate


def load_workflow(
    manifest: Manifest, name: str, *, step_types: Collection[str] | None = None
) -> Workflow:
    """The validated workflow ``name``; a did-you-mean error if there is none."""
    sources = workflow_sources(manifest)
    if name not in sources:
        hint = did_you_mean(name, sorted(sources)) or (
            "known workflows: " + (", ".join(sorted(sources)) or "none")
        )
        raise UsageError(f"no workflow named {name!r} in {manifest.path}", hint=hint)
    return parse_workflow(sources[name], step_types=step_types)


def load_workflows(
    manifest: Manifest, *, step_types: Collection[str] | None = None
) -> dict[str, Workflow]:
    """Every workflow, validated; all problems of all workflows are reported together."""
    from nestr.errors import InputError, MultipleInputErrors

    found: dict[str, Workflow] = {}
    errors: list[InputError] = []
    for name, source in workflow_sources(manifest).items():
        try:
            found[name] = parse_workflow(source, step_types=step_types)
        except MultipleInputErrors as exc:
            errors.extend(exc.errors)
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else MultipleInputErrors(errors)
    return found


def parse_workflow(
    source: WorkflowSource, *, step_types: Collection[str] | None = None
) -> Workflow:
    """Type-check, build and validate one definition."""
    from pydantic import ValidationError

    from nestr.validation import translate
    from nestr.workflow.schema import WorkflowSection, known_keys

    if not isinstance(source.raw, dict):
        raise WorkflowDefinitionError(
            "a workflow must be a mapping with steps:", location=source.locate(())
        )
    try:
        section = WorkflowSection.model_validate(source.raw)
    except ValidationError as exc:
        raise translate(
            exc,
            locate=source.locate,
            error=WorkflowDefinitionError,
            known_keys=known_keys,
            field_prefix=source.field_prefix,
        ) from None
    workflow = _build(section, source)
    if step_types is None:
        from nestr.workflow.registry import default_registry

        step_types = default_registry().names()
    validate_workflow(workflow, source.locate, step_types, field_prefix=source.field_prefix)
    return workflow


def _build(section: WorkflowSection, source: WorkflowSource) -> Workflow:
    defaults = section.defaults
    steps = tuple(
        _step(step, index, defaults.retry, defaults.timeout, source)
        for index, step in enumerate(section.steps)
    )
    return Workflow(
        name=section.name or source.name,
        description=section.description,
        inputs=tuple(
            InputDef(name, item.type, item.default, item.description)
            for name, item in section.inputs.items()
        ),
        concurrency=section.concurrency,
        fail_fast=section.fail_fast,
        env=dict(defaults.env),
        steps=steps,
        source=source.path,
    )


def _step(
    step: StepSection,
    index: int,
    retry: RetrySection | None,
    timeout: float | None,
    source: WorkflowSource,
) -> StepDef:
    policy = step.retry or retry
    with_: Mapping[str, Any] = (
        {"command": step.run, "shell": step.shell} if step.run is not None else step.with_
    )
    condition = step.if_
    return StepDef(
        id=step.id,
        uses=SHELL_STEP if step.run is not None else str(step.uses),
        with_=dict(with_),
        needs=tuple(step.needs),
        condition=("true" if condition else "false") if isinstance(condition, bool) else condition,
        foreach=None
        if step.foreach is None
        else RepoSelector(tuple(step.foreach.groups), tuple(step.foreach.names), step.foreach.all),
        cwd=step.cwd,
        env=dict(step.env),
        retry=RetryPolicy(**policy.model_dump()) if policy else DEFAULT_RETRY,
        timeout=step.timeout if step.timeout is not None else timeout,
        continue_on_error=step.continue_on_error,
        location=source.locate(("steps", index)),
    )
