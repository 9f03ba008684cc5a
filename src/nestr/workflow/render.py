"""Render a step instance's ``with``, ``env`` and ``cwd`` against its expression scope.

A ``run`` command is split into argv with ``shlex`` *before* any expression is evaluated, and
each element is rendered on its own: a value such as ``; rm -rf /`` or ``$(id)`` becomes (part
of) one argument and is never seen by a shell. With ``shell: true`` every substituted value is
``shlex.quote``-d, so it still reaches the script as one inert word.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from nestr.errors import WorkflowDefinitionError
from nestr.workflow import expressions
from nestr.workflow.model import SHELL_STEP, StepDef, Workflow

_PLACEHOLDER = "__nestr_expr_{}__"


@dataclass(frozen=True)
class Rendered:
    """What one instance runs with."""

    with_: Mapping[str, Any]
    env: Mapping[str, str]  # the whole environment of the step
    cwd: Path


def split_command(command: str, scope: Mapping[str, Any]) -> list[str]:
    """argv of ``command``: shlex-split first, then each element rendered."""
    if "${{" not in command:  # the same argv every time: split once (shlex is slow)
        return list(_split_plain(command))
    found: list[str] = []

    def hide(match: Any) -> str:
        found.append(match.group(0))
        return _PLACEHOLDER.format(len(found) - 1)

    masked = expressions.EXPRESSION.sub(hide, command)
    try:
        tokens = shlex.split(masked)
    except ValueError as exc:
        raise WorkflowDefinitionError(f"cannot split command {command!r}: {exc}") from None
    argv = []
    for token in tokens:
        for index, original in enumerate(found):
            token = token.replace(_PLACEHOLDER.format(index), original)
        argv.append(expressions.render(token, scope))
    return argv


@lru_cache(maxsize=1024)
def _split_plain(command: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(command))
    except ValueError as exc:
        raise WorkflowDefinitionError(f"cannot split command {command!r}: {exc}") from None


def render_with(step: StepDef, scope: Mapping[str, Any]) -> dict[str, Any]:
    if step.uses == SHELL_STEP and "command" in step.with_:
        command = str(step.with_["command"])
        if step.with_.get("shell"):
            return {"script": expressions.render(command, scope, quote=shlex.quote)}
        return {"argv": split_command(command, scope)}
    rendered = expressions.render_value(dict(step.with_), scope)
    assert isinstance(rendered, dict)
    return rendered


def render_instance(
    step: StepDef,
    workflow: Workflow,
    scope: dict[str, Any],
    *,
    base_dir: Path,
    base_env: Mapping[str, str] | None = None,
) -> Rendered:
    """Environment first (expressions may read ``env``), then ``with`` and ``cwd``."""
    env = dict(os.environ if base_env is None else base_env)
    env.update(workflow.env)
    scope["env"] = env
    if step.env:
        for key, value in step.env.items():
            env[key] = expressions.render(value, {**scope, "env": dict(env)})
    cwd = base_dir
    if step.cwd:
        cwd = (base_dir / expressions.render(step.cwd, scope)).resolve()
    return Rendered(with_=render_with(step, scope), env=env, cwd=cwd)


def reads_scope(step: StepDef) -> bool:
    """Whether running ``step`` evaluates any expression; if not, its scope is never read."""
    texts = [*step.env.values(), step.cwd or "", *_strings(step.with_)]
    return step.condition is not None or any("${{" in text for text in texts)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []
