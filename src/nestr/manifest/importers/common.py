"""Shared checks for foreign YAML manifests: located errors and unknown-key warnings."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from nestr.errors import ManifestError
from nestr.yamlsource import KeyPath, YamlDocument, format_key_path


def bad(
    doc: YamlDocument, key_path: KeyPath, message: str, hint: str | None = None
) -> ManifestError:
    """A :class:`ManifestError` at the node ``key_path`` of ``doc``."""
    return ManifestError(
        message, location=doc.locate(key_path), field=format_key_path(key_path), hint=hint
    )


def mapping(doc: YamlDocument, key_path: KeyPath, value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping (``None`` counts as empty), else a located error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad(doc, key_path, f"expected a mapping, found {_kind(value)}")
    return value


def sequence(doc: YamlDocument, key_path: KeyPath, value: Any) -> list[Any]:
    """``value`` if it is a list (``None`` counts as empty), else a located error."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(doc, key_path, f"expected a list, found {_kind(value)}")
    return value


def text(doc: YamlDocument, key_path: KeyPath, value: Any) -> str:
    """``value`` as a string: YAML numbers (``revision: 1.0``) are taken as written."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise bad(doc, key_path, f"expected a non-empty string, found {_kind(value)}")


def unhandled(
    doc: YamlDocument, key_path: KeyPath, data: Mapping[str, Any], known: Collection[str]
) -> list[str]:
    """A warning for each key of ``data`` that the importer does not translate."""
    return [
        f"{doc.locate_key((*key_path, key))}: {format_key_path((*key_path, key))}: "
        f"not imported (nestr has no equivalent)"
        for key in data
        if key not in known
    ]


EXCERPT = 40  # characters of a wrong value shown in an error: enough to recognise it


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"string {excerpt(value)}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {excerpt(value)}"


def excerpt(value: Any) -> str:
    """``repr`` of the start of ``value`` (escaped, one line), never the whole of a long one."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= EXCERPT:
        return repr(text) if isinstance(value, str) else text
    return f"{text[:EXCERPT]!r}… ({len(text)} characters)"
