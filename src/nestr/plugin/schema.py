"""The subset of JSON Schema the SDK checks a step's ``with:`` against before a run starts.

``type`` (object, string, integer, number, boolean, array), ``required``, ``properties``,
``additionalProperties: false``, ``items`` and ``enum``: enough for the shape of a ``with:``,
without a dependency. A value holding an expression (``${{ ... }}``) is not judged: it is only
known once the run renders it. Each problem names the path of the field inside ``with:``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Problem = tuple[tuple[str, ...], str]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
}


def problems(
    schema: Mapping[str, Any], value: Any, path: tuple[str, ...] = ()
) -> Iterator[Problem]:
    """Every way ``value`` (at ``path``) breaks ``schema``."""
    if isinstance(value, str) and "${{" in value:
        return
    expected = schema.get("type")
    if isinstance(expected, str) and not _is(value, expected):
        yield path, f"expected {expected}, got {_kind(value)}"
        return
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(repr(v) for v in schema["enum"])
        yield path, f"must be one of {choices}, got {value!r}"
    if isinstance(value, dict):
        yield from _object(schema, value, path)
    elif isinstance(value, list | tuple) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from problems(schema["items"], item, (*path, str(index)))


def _object(
    schema: Mapping[str, Any], value: dict[str, Any], path: tuple[str, ...]
) -> Iterator[Problem]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            yield path, f"`{name}` is required"
    for name, item in value.items():
        if name in properties:
            yield from problems(properties[name], item, (*path, str(name)))
        elif schema.get("additionalProperties") is False:
            known = ", ".join(sorted(properties)) or "none"
            yield (*path, str(name)), f"unknown field `{name}` (known: {known})"


def _is(value: Any, expected: str) -> bool:
    if expected in {"integer", "number"} and isinstance(value, bool):
        return False
    if expected == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(expected, (object,)))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    for name in _TYPES:
        if _is(value, name):
            return name
    return type(value).__name__
