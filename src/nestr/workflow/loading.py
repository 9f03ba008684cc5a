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

from nestr.errors import (
    InputError,
    MultipleInputErrors,
    NotFound,
    SourceLocation,
    WorkflowDefinitionError,
    did_you_mean,
    each_error,
)
from nestr.workflow.model import (
    DEFAULT_RETRY,
    SHELL_STEP,
    Compensation,
    InputDef,
    RepoSelector,
    RetryPolicy,
    StepDef,
    Workflow,
)
from nestr.workflow.validate import check_workflow
from nestr.yamlsource import KeyPath, YamlDocument, format_key_path, load_yaml_file

if TYPE_CHECKING:
    from nestr.manifest.model import Manifest
    from nestr.workflow.schema import (
        CompensateSection,
        RetrySection,
        StepSection,
        WorkflowSection,
    )

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
    sources, errors = collect_sources(manifest.path, manifest.document, manifest.workflows)
    raise_all(errors)
    return sources


def collect_sources(
    path: Path,
    document: YamlDocument | None,
    workflows: Mapping[Any, Any],
    *,
    directory: bool = True,
) -> tuple[dict[str, WorkflowSource], list[InputError]]:
    """Definitions by name, and the problems of the files that could not be read.

    ``workflows`` is the manifest's ``workflows:`` section at ``path``; ``directory`` adds the
    ``workflows/*.yaml`` files beside it.
    """
    sources = {
        str(name): WorkflowSource(
            str(name), raw, path, _locator(document, path, str(name)), ("workflows", str(name))
        )
        for name, raw in workflows.items()
    }
    errors: list[InputError] = []
    folder = path.parent / WORKFLOW_DIR
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if directory else []
    for file in files:
        try:
            document_ = load_yaml_file(file, error=WorkflowDefinitionError)
        except InputError as exc:
            errors.append(exc)
            continue
        name = file.stem
        if isinstance(document_.data, dict) and isinstance(document_.data.get("name"), str):
            name = document_.data["name"]
        if name in sources:
            errors.append(
                WorkflowDefinitionError(
                    f"workflow {name!r} is defined twice (also in {sources[name].path})",
                    location=document_.locate(("name",)),
                    hint="give each workflow its own name",
                )
            )
            continue
        sources[name] = WorkflowSource(name, document_.data, file, _locator(document_, file, None))
    return sources, errors


def raise_all(errors: list[InputError]) -> None:
    """Raise the one error, or all of them together; nothing when there is none."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultipleInputErrors(errors)


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
        message = f"no workflow named {name!r} in {manifest.path}"
        raise NotFound(message, kind="workflow", name=name, hint=hint)
    return parse_workflow(sources[name], step_types=step_types)


def load_workflows(
    manifest: Manifest, *, step_types: Collection[str] | None = None
) -> dict[str, Workflow]:
    """Every workflow, validated; all problems of all workflows are reported together."""
    found, errors = check_sources(workflow_sources(manifest), step_types=step_types)
    raise_all(errors)
    return found


def check_sources(
    sources: Mapping[str, WorkflowSource], *, step_types: Collection[str] | None = None
) -> tuple[dict[str, Workflow], list[InputError]]:
    """The workflows that are valid, and every problem of those that are not."""
    found: dict[str, Workflow] = {}
    errors: list[InputError] = []
    for name, source in sources.items():
        workflow, problems = check_workflow_source(source, step_types=step_types)
        errors.extend(problems)
        if workflow is not None:
            found[name] = workflow
    return found, errors


def parse_workflow(
    source: WorkflowSource, *, step_types: Collection[str] | None = None
) -> Workflow:
    """Type-check, build and validate one definition."""
    workflow, errors = check_workflow_source(source, step_types=step_types)
    raise_all(errors)
    assert workflow is not None
    return workflow


def check_workflow_source(
    source: WorkflowSource, *, step_types: Collection[str] | None = None
) -> tuple[Workflow | None, list[InputError]]:
    """The workflow of ``source`` if it is valid, and every problem found in it.

    Type errors do not hide the checks that span steps: those run on the outline of what
    type-checks (:mod:`nestr.workflow.outline`).
    """
    from pydantic import ValidationError

    from nestr.validation import translate
    from nestr.workflow.outline import Outline, outline
    from nestr.workflow.schema import WorkflowSection, known_keys

    if not isinstance(source.raw, dict):
        where = format_key_path(source.field_prefix) or None
        message = "a workflow must be a mapping with steps:"
        return None, [WorkflowDefinitionError(message, location=source.locate(()), field=where)]
    errors: list[InputError] = []
    try:
        known = Outline(
            _build(WorkflowSection.model_validate(source.raw), source), frozenset(), True
        )
    except ValidationError as exc:
        errors = each_error(
            translate(
                exc,
                locate=source.locate,
                error=WorkflowDefinitionError,
                known_keys=known_keys,
                field_prefix=source.field_prefix,
            )
        )
        known = outline(source, exc)
    if step_types is None:
        from nestr.workflow.registry import default_registry

        step_types = default_registry().names()
    errors.extend(
        check_workflow(
            known.workflow,
            source.locate,
            step_types,
            field_prefix=source.field_prefix,
            outlines=known.outlines,
            inputs_known=known.inputs_known,
        )
    )
    return (None if errors else known.workflow), errors


def _build(section: WorkflowSection, source: WorkflowSource) -> Workflow:
    defaults = section.defaults
    steps = tuple(
        build_step(step, index, defaults.retry, defaults.timeout, source)
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


def build_step(
    step: StepSection,
    index: int,
    retry: RetrySection | None,
    timeout: float | None,
    source: WorkflowSource,
) -> StepDef:
    """The domain value of one type-checked step (at ``index``), defaults applied."""
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
        compensate=None if step.compensate is None else _compensation(step.compensate),
        location=source.locate(("steps", index)),
    )


def _compensation(section: CompensateSection) -> Compensation:
    """The domain value of a ``compensate:`` body (a ``run`` is the ``shell`` type)."""
    if section.run is not None:
        with_: dict[str, Any] = {"command": section.run, "shell": section.shell}
        return Compensation(SHELL_STEP, with_, section.cwd, dict(section.env))
    return Compensation(str(section.uses), dict(section.with_), section.cwd, dict(section.env))
