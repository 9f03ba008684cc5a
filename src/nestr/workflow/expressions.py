"""``${{ … }}`` expressions: found in text, checked before a run, evaluated in a sandbox.

Each ``${{ expr }}`` is a Jinja expression compiled by a ``jinja2.sandbox.SandboxedEnvironment``
bounded in time and size (:mod:`nestr.workflow.sandbox`) with ``StrictUndefined`` (a typo is an
error, never an empty string) and evaluated against a scope of ``inputs``, ``steps``, ``repo``,
``env`` and ``run``. Nothing is ever handed to a shell here:
callers decide how a rendered value is used (see ``nestr.workflow.render``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
ROOTS = frozenset({"inputs", "steps", "repo", "env", "run"})


class ExpressionError(Exception):
    """An expression that cannot be parsed or evaluated; the message says which and why."""


def find_expressions(text: str) -> list[str]:
    """The expressions inside every ``${{ … }}`` of ``text``, stripped."""
    return [m.group(1).strip() for m in EXPRESSION.finditer(text)]


def has_expression(text: str) -> bool:
    return EXPRESSION.search(text) is not None


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined

    from nestr.workflow.sandbox import BoundedEnvironment

    return BoundedEnvironment(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=1024)
def _compiled(expr: str) -> Callable[..., Any]:
    from jinja2 import TemplateSyntaxError

    try:
        return _environment().compile_expression(expr, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise _bad(expr, exc.message) from None


def _bad(expr: str, reason: str | None) -> ExpressionError:
    from nestr.validation import escaped  # an ESC or newline must not reach the terminal raw

    return ExpressionError(f"bad expression `{escaped(expr)}`: {escaped(reason or 'invalid')}")


def check(expr: str) -> None:
    """Raise :class:`ExpressionError` if ``expr`` does not parse."""
    _compiled(expr)


def references(expr: str) -> set[tuple[str, str | None]]:
    """``(root, name)`` pairs ``expr`` reads: ``steps.build.x`` → ``("steps", "build")``.

    ``name`` is None when the root is used without a constant attribute or key after it.
    """
    from jinja2 import TemplateSyntaxError, nodes

    try:
        tree = _environment().parse("{{ " + expr + " }}")
    except TemplateSyntaxError as exc:
        raise _bad(expr, exc.message) from None
    found: set[tuple[str, str | None]] = set()
    named: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        inner = getattr(node, "node", None)
        if not isinstance(inner, nodes.Name):
            continue
        if isinstance(node, nodes.Getattr):
            key: str | None = node.attr
        else:
            key = _const(getattr(node, "arg", None))
        found.add((inner.name, key))
        named.add(id(inner))
    for name in tree.find_all(nodes.Name):
        if id(name) not in named:
            found.add((name.name, None))
    return found


def _const(node: Any) -> str | None:
    from jinja2 import nodes

    return str(node.value) if isinstance(node, nodes.Const) else None


def evaluate(expr: str, scope: Mapping[str, Any]) -> Any:
    """The value of one expression (without ``${{ }}``) in ``scope``."""
    from jinja2 import Undefined
    from jinja2.exceptions import SecurityError, UndefinedError

    from nestr.workflow import sandbox

    sandbox.start_clock()
    try:
        value = _compiled(expr)(**scope)
        if isinstance(value, Undefined):
            str(value)  # StrictUndefined raises here with the name that is missing
        sandbox.check_length(value)
    except (UndefinedError, SecurityError) as exc:
        raise ExpressionError(f"cannot evaluate `{expr}`: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError, MemoryError) as exc:
        raise ExpressionError(f"cannot evaluate `{expr}`: {_reason(exc)}") from None
    finally:
        sandbox.stop_clock()
    return value


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__  # MemoryError() has no message


def to_text(value: Any) -> str:
    """How a value reads when substituted into text: booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def render(
    text: str, scope: Mapping[str, Any], *, quote: Callable[[str], str] | None = None
) -> str:
    """``text`` with every ``${{ expr }}`` replaced by its value (passed through ``quote``)."""
    if "${{" not in text:
        return text

    def substitute(match: re.Match[str]) -> str:
        value = to_text(evaluate(match.group(1).strip(), scope))
        return quote(value) if quote else value

    return EXPRESSION.sub(substitute, text)


def render_value(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render strings inside ``value`` (nested lists and mappings too); a lone
    ``${{ expr }}`` keeps the expression's native type."""
    if isinstance(value, str):
        whole = EXPRESSION.fullmatch(value.strip())
        if whole is not None:
            return evaluate(whole.group(1).strip(), scope)
        return render(value, scope)
    if isinstance(value, Mapping):
        return {k: render_value(v, scope) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render_value(v, scope) for v in value]
    return value


def condition_holds(condition: str | bool, scope: Mapping[str, Any]) -> bool:
    """Truth of an ``if:``: a bare expression, or text with ``${{ }}`` (GitHub-style)."""
    if isinstance(condition, bool):
        return condition
    text = condition.strip()
    if not has_expression(text):
        return bool(evaluate(text, scope))
    value = render_value(text, scope)
    if isinstance(value, str):
        return value.strip().lower() not in {"", "false", "0", "no", "off"}
    return bool(value)


def condition_expressions(condition: str | bool | None) -> list[str]:
    """The expressions an ``if:`` evaluates (a bare condition is one expression)."""
    if condition is None or isinstance(condition, bool):
        return []
    text = condition.strip()
    return find_expressions(text) if has_expression(text) else [text]
