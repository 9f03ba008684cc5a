"""Render a step instance's ``with``, ``env`` and ``cwd`` against its expression scope.

A ``run`` command is split into argv with ``shlex`` *before* any expression is evaluated, and
each element is rendered on its own: a value such as ``; rm -rf /`` or ``$(id)`` becomes (part
of) one argument and is never seen by a shell. A shell script (``shell: true``, ``with.script``,
or the ``-c`` script of an argv that runs ``sh``/``bash``/…) never holds a value as text: each
``${{ }}`` becomes a reference to an environment variable that carries the value (see
:mod:`nestr.workflow.shellscript`).
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
from nestr.workflow import expressions, shellargv, shellscript
from nestr.workflow.model import SHELL_STEP, StepDef, Workflow

_PLACEHOLDER = "__nestr_expr_{}__"
_NUL = "holds a NUL byte, which no process argument or environment variable can carry"


@dataclass(frozen=True)
class Rendered:
    """What one instance runs with."""

    with_: Mapping[str, Any]
    env: Mapping[str, str]  # the whole environment of the step
    cwd: Path


def split_command(command: str, scope: Mapping[str, Any]) -> list[str]:
    """argv of ``command``: shlex-split first, then each element rendered."""
    return command_argv(command, scope)[0]


def command_argv(command: str, scope: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    """argv of ``command`` and the variables its shell script (if it runs one) reads."""
    if "${{" not in command:  # the same argv every time: split once (shlex is slow)
        return list(_split_plain(command)), {}
    tokens, script_index = _split_templated(command)
    return _argv(tokens, script_index, scope)


def _argv(
    tokens: tuple[tuple[str, bool], ...], script_index: int | None, scope: Mapping[str, Any]
) -> tuple[list[str], dict[str, str]]:
    argv: list[str] = []
    variables: dict[str, str] = {}
    for index, (token, templated) in enumerate(tokens):
        if index == script_index:
            script = _rewrite(token)
            argv.append(script.text)
            variables = script_variables(script, scope)
        else:
            argv.append(_render_argument(token, scope) if templated else token)
    _check_shell_argv(argv, tokens, script_index)
    return argv, variables


@lru_cache(maxsize=1024)
def _split_templated(command: str) -> tuple[tuple[tuple[str, bool], ...], int | None]:
    """The tokens of ``command`` (each with whether it holds an expression) and the index of
    the ``-c`` script of a shell that holds one."""
    found: list[str] = []

    def hide(match: Any) -> str:
        found.append(match.group(0))
        return _PLACEHOLDER.format(len(found) - 1)

    masked = expressions.EXPRESSION.sub(hide, command)
    try:
        split = shlex.split(masked)
    except ValueError as exc:
        raise WorkflowDefinitionError(f"cannot split command {command!r}: {exc}") from None
    tokens = []
    for token in split:
        restored = token
        for index, original in enumerate(found):
            restored = restored.replace(_PLACEHOLDER.format(index), original)
        tokens.append((restored, restored != token))
    return _with_script_index(tuple(tokens))


def _with_script_index(
    tokens: tuple[tuple[str, bool], ...],
) -> tuple[tuple[tuple[str, bool], ...], int | None]:
    index = shellargv.shell_script_index([None if t else w for w, t in tokens])
    return tokens, index if index is not None and tokens[index][1] else None


def _render_argument(token: str, scope: Mapping[str, Any]) -> str:
    value = expressions.render(token, scope)
    if "\0" in value:
        raise expressions.ExpressionError(f"argument `{token}` {_NUL}")
    return value


def _check_shell_argv(
    argv: list[str], tokens: tuple[tuple[str, bool], ...], script_index: int | None
) -> None:
    """Refuse an argv whose substituted values make it run a shell script holding a value
    (``${{ a }} -c "${{ b }}"`` with ``a=sh``)."""
    if not shellargv.runs_shell(argv[0]) and not tokens[0][1]:
        return
    index = shellargv.shell_script_index(argv)
    if index is not None and index != script_index and tokens[index][1]:
        raise expressions.ExpressionError(
            f"argument `{tokens[index][0]}` would be the script of a shell chosen by a"
            " substituted value; write the shell and its -c literally in run"
        )


def script_variables(script: shellscript.ShellScript, scope: Mapping[str, Any]) -> dict[str, str]:
    """The environment variables that carry the values of ``script``'s expressions."""
    variables = {}
    for index, expr in enumerate(script.expressions, start=1):
        value = expressions.to_text(expressions.evaluate(expr, scope))
        if "\0" in value:
            raise expressions.ExpressionError(f"the value of `${{{{ {expr} }}}}` {_NUL}")
        variables[shellscript.VARIABLE.format(index)] = value
    return variables


def _rewrite(script: str) -> shellscript.ShellScript:
    try:
        return shellscript.rewrite(script)
    except shellscript.ShellSubstitutionError as exc:
        raise WorkflowDefinitionError(exc.message, hint=exc.hint) from None


@lru_cache(maxsize=1024)
def _split_plain(command: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(command))
    except ValueError as exc:
        raise WorkflowDefinitionError(f"cannot split command {command!r}: {exc}") from None


def render_with(step: StepDef, scope: Mapping[str, Any]) -> dict[str, Any]:
    """The rendered ``with`` of ``step`` (see :func:`render_step_with` for its variables)."""
    return render_step_with(step, scope)[0]


def render_step_with(
    step: StepDef, scope: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The rendered ``with`` of ``step`` and the variables that carry its script's values."""
    with_ = step.with_
    if step.uses == SHELL_STEP and "command" in with_:
        command = str(with_["command"])
        if not with_.get("shell"):
            argv, variables = command_argv(command, scope)
            return {"argv": argv}, variables
        if "${{" not in command:
            return {"script": command}, {}
        with_ = {"script": command}
    if step.uses == SHELL_STEP and _is_script(with_):
        return _render_script(with_, scope)
    rendered = expressions.render_value(dict(with_), scope)
    assert isinstance(rendered, dict)
    return rendered, {}


def _is_script(with_: Mapping[str, Any]) -> bool:
    if isinstance(with_.get("argv"), list):
        return any(isinstance(a, str) and "${{" in a for a in with_["argv"])
    return isinstance(with_.get("script"), str) and "${{" in with_["script"]


def _render_script(
    with_: Mapping[str, Any], scope: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A shell step's ``script`` (or ``argv``) whose expressions become variables."""
    if "argv" in with_:
        words = [str(a) for a in with_["argv"]]
        argv, variables = _argv(*_with_script_index(tuple((w, "${{" in w) for w in words)), scope)
        return {"argv": argv}, variables
    script = _rewrite(with_["script"])
    return {"script": script.text}, script_variables(script, scope)


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
            env[key] = _no_nul(expressions.render(value, {**scope, "env": dict(env)}), key)
    cwd = base_dir
    if step.cwd:
        cwd = (base_dir / _no_nul(expressions.render(step.cwd, scope), "cwd")).resolve()
    try:
        with_, variables = render_step_with(step, scope)
    except WorkflowDefinitionError as exc:
        field = "run" if step.is_command else "with"
        raise WorkflowDefinitionError(
            exc.detail, location=step.location, field=field, hint=exc.hint
        ) from None
    env.update(variables)
    return Rendered(with_=with_, env=env, cwd=cwd)


def _no_nul(value: str, field: str) -> str:
    if "\0" in value:
        raise expressions.ExpressionError(f"{field}: the rendered value {_NUL}")
    return value


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


def script_problem(
    step: StepDef,
) -> tuple[tuple[str | int, ...], shellscript.ShellSubstitutionError] | None:
    """Where a shell script of ``step`` cannot receive a value as data (checked before a run):
    the key path of the field in the step and the :class:`~shellscript.ShellSubstitutionError`."""
    for field, script in _scripts(step):
        try:
            shellscript.rewrite(script)
        except shellscript.ShellSubstitutionError as exc:
            return field, exc
    return None


def _scripts(step: StepDef) -> list[tuple[tuple[str | int, ...], str]]:
    with_ = step.with_
    if step.uses != SHELL_STEP:
        return []
    if step.is_command:
        command = str(with_["command"])
        if "${{" not in command or with_.get("shell"):
            return [(("run",), command)] if "${{" in command else []
        try:
            tokens, index = _split_templated(command)
        except WorkflowDefinitionError:
            return []
        return [] if index is None else [(("run",), tokens[index][0])]
    if isinstance(with_.get("argv"), list):
        words = tuple((str(a), "${{" in str(a)) for a in with_["argv"])
        index = _with_script_index(words)[1]
        return [] if index is None else [(("with", "argv", index), words[index][0])]
    script = with_.get("script")
    return [(("with", "script"), script)] if isinstance(script, str) and "${{" in script else []
