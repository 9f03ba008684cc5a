"""Workflow inputs from ``--var NAME=VALUE``: unknown names, missing values and types checked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nestr.errors import UsageError, did_you_mean
from nestr.workflow.model import InputDef, Workflow

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_vars(pairs: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``; a pair without ``=`` is an error."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--var {pair!r}: expected NAME=VALUE", hint="e.g. --var version=1.2")
        values[name.strip()] = value
    return values


def resolve_inputs(workflow: Workflow, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared input with its typed value (given or default); exit-2 errors otherwise."""
    declared = {item.name: item for item in workflow.inputs}
    for name in given:
        if name not in declared:
            hint = did_you_mean(name, sorted(declared)) or (
                "declared inputs: " + (", ".join(sorted(declared)) or "none")
            )
            raise UsageError(f"workflow {workflow.name!r} has no input {name!r}", hint=hint)
    values: dict[str, Any] = {}
    for name, item in declared.items():
        if name in given:
            values[name] = _coerce(item, given[name])
        elif item.required:
            raise UsageError(
                f"workflow {workflow.name!r} needs input {name!r} ({item.type})",
                hint=f"pass --var {name}=VALUE",
            )
        else:
            values[name] = _coerce(item, item.default)
    return values


def _coerce(item: InputDef, value: Any) -> Any:
    if item.type == "string":
        return value if isinstance(value, str) else _text(value)
    if item.type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return value
    else:
        try:
            number = float(str(value))
        except ValueError:
            pass
        else:
            return int(number) if number.is_integer() and "." not in str(value) else number
    raise UsageError(f"input {item.name!r} expects a {item.type}; got {value!r}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
