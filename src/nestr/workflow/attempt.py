"""One try of a step instance, shared by every executor: prepare, run, say how it ended.

:func:`prepare` decides whether an instance can run at all (its ``if:`` condition, a repo
reached through a symlink, a template or step type that does not resolve) and renders what it
runs with; :func:`step_context` builds what one try is given; :func:`run_try` awaits the step
under its timeout and turns what it returned or raised into an
:class:`~nestr.store.attempts.AttemptEnd` (outputs read from ``$NESTR_OUTPUT``). Nothing here
writes to the store or publishes an event: recording a try is the executor's business
(``nestr.workflow.recording`` for the local one).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from nestr.errors import NestrError, UsageError
from nestr.store.attempts import AttemptEnd
from nestr.workflow import expressions
from nestr.workflow.executor import RunSpec
from nestr.workflow.outputs import take_outputs
from nestr.workflow.plan import Instance
from nestr.workflow.protocols import (
    Emit,
    LogSink,
    ProcessRunner,
    StepContext,
    StepFactory,
    StepFailed,
)
from nestr.workflow.registry import StepRegistry
from nestr.workflow.render import Rendered, render_instance

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")  # characters of a key kept out of a file name


@dataclass(frozen=True)
class Prepared:
    """What an instance runs with: its rendered fields and its step type."""

    rendered: Rendered
    factory: StepFactory


@dataclass(frozen=True)
class Unrunnable:
    """An instance that ends without a try: skipped by its condition, or failed to prepare."""

    status: Literal["skipped", "failed"]
    reason: str


def prepare(
    instance: Instance,
    scope: dict[str, Any],
    spec: RunSpec,
    registry: StepRegistry,
    base_env: Mapping[str, str],
) -> Prepared | Unrunnable:
    """Evaluate ``instance``'s condition, check its directory, render it, find its type."""
    step = instance.step
    try:
        if step.condition is not None and not expressions.condition_holds(
            step.condition, {**scope, "env": base_env}
        ):
            return Unrunnable("skipped", "condition is false")
        if instance.repo is not None:
            _refuse_symlinked(spec.root, instance.repo.path)
        rendered = render_instance(
            step,
            spec.plan.workflow,
            scope,
            base_dir=base_dir(spec.root, instance),
            base_env=base_env,
        )
        factory = registry.get(step.uses)
    except (expressions.ExpressionError, NestrError) as exc:
        return Unrunnable("failed", str(exc))
    return Prepared(rendered, factory)


def base_dir(root: Path, instance: Instance) -> Path:
    """Where ``instance`` runs unless its ``cwd`` says otherwise: its repo, or the root."""
    if instance.repo is not None:
        return root / instance.repo.path
    return root


def output_path(output_dir: Path, key: str, claim: int, attempt: int) -> Path:
    """The ``$NESTR_OUTPUT`` file of one try, unique per try: a key is escaped one-to-one,
    attempts are numbered within a claim of the run, and only one process holds each claim.
    Not created here: a step that writes outputs creates it (``>>`` does); most never do."""
    return output_dir / f"{_UNSAFE.sub(_escaped, key)}.{claim}.{attempt}.output"


def step_context(
    spec: RunSpec,
    instance: Instance,
    prepared: Prepared,
    attempt: int,
    output: Path,
    *,
    log: LogSink,
    processes: ProcessRunner,
    emit: Emit,
) -> StepContext:
    """What one try of ``instance`` is given; ``emit`` publishes on the executor's bus."""
    rendered = prepared.rendered
    env = {**rendered.env, "NESTR_OUTPUT": str(output), "NESTR_RUN_ID": spec.run_id}
    return StepContext(
        run_id=spec.run_id,
        step_id=instance.step.id,
        key=instance.key,
        attempt=attempt,
        root=spec.root,
        cwd=rendered.cwd,
        output_path=output,
        log=log,
        processes=processes,
        settings=spec.settings,
        emit=emit,
        with_=rendered.with_,
        env=env,
        repo=instance.repo,
        repo_dir=base_dir(spec.root, instance) if instance.repo else None,
        manifest_path=spec.manifest_path,
        state_dir=spec.state_dir,
    )


async def run_try(
    instance: Instance, ctx: StepContext, factory: StepFactory, *, final: bool
) -> AttemptEnd:
    """Run one try under the step's timeout; how it ended (``step_status`` set when it ends
    the step: a success, or a failure of the ``final`` try). A cancel is raised through."""
    try:
        async with asyncio.timeout(instance.step.timeout):
            returned = await factory().run(ctx)
    except Exception as exc:  # a broken step plugin fails its step, not the whole run
        return ended_by(exc, instance, final=final)
    return succeeded(ctx, returned)


def succeeded(
    ctx: StepContext, returned: Mapping[str, str] | None, *, output_file: bool = True
) -> AttemptEnd:
    """The end of a try that returned ``returned``: its outputs are those of the
    ``$NESTR_OUTPUT`` file (unless ``output_file`` is false: nothing could have written it),
    overridden by what it returned."""
    written = take_outputs(ctx.output_path) if output_file else {}
    outputs = {**written, **dict(returned or {})}
    return AttemptEnd("succeeded", step_status="succeeded", exit_code=0, outputs=outputs)


def ended_by(exc: Exception, instance: Instance, *, final: bool) -> AttemptEnd:
    """The end of a try that raised ``exc``."""
    if isinstance(exc, TimeoutError):
        return _failure("timed_out", f"timed out after {instance.step.timeout:g}s", None, final)
    if isinstance(exc, StepFailed):
        return _failure("failed", exc.message, exc.returncode, final)
    if isinstance(exc, NestrError):
        return _failure("failed", exc.message, None, final)
    return _failure("failed", f"{type(exc).__name__}: {exc}", None, final)


def cancelled_end() -> AttemptEnd:
    """The end of a try that was cancelled (it ends its step too)."""
    return AttemptEnd("cancelled", step_status="cancelled", error="cancelled")


def _failure(
    status: Literal["failed", "timed_out"], error: str, code: int | None, final: bool
) -> AttemptEnd:
    return AttemptEnd(status, step_status="failed" if final else None, exit_code=code, error=error)


def _escaped(match: re.Match[str]) -> str:
    """``%XX`` per byte: ``%`` is escaped too, so two keys never give one name."""
    return "".join(f"%{byte:02X}" for byte in match.group().encode())


def _refuse_symlinked(root: Path, path: str) -> None:
    """A per-repo step never runs in a repo reached through a symlink (as ``assemble`` and
    ``foreach`` refuse it): the link could lead out of the workspace."""
    from nestr.symlinks import first_symlink

    link = first_symlink(root.resolve(), path)
    if link is not None:
        raise UsageError(
            f"repo directory {root / path} is reached through the symlink {link}",
            hint="replace the symlink with a real directory inside the workspace",
        )
