"""Turn pydantic validation errors into nestr input errors that point at the source.

pydantic reports ``loc`` tuples and echoes input values; nestr rewrites each error with the
position of the offending YAML node (or the env var / flag it came from), says what was expected
in plain words, and never echoes the value of a secret field.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from nestr.errors import InputError, MultipleInputErrors, SourceLocation, did_you_mean
from nestr.yamlsource import KeyPath, format_key_path

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

MAX_SHOWN = 60


def translate(
    exc: ValidationError,
    *,
    locate: Callable[[KeyPath], SourceLocation],
    error: type[InputError] = InputError,
    secret_paths: Collection[KeyPath] = (),
    known_keys: Callable[[KeyPath], Collection[str]] | None = None,
    field_prefix: KeyPath = (),
) -> InputError:
    """One :class:`InputError` (or several combined) for a pydantic ``ValidationError``.

    ``field_prefix`` names where the validated section sits in its file (``workflows.ci``).
    """
    errors: list[InputError] = []
    for item in exc.errors(include_url=False):
        loc = _key_path(item)
        secret = any(loc[: len(s)] == tuple(s) for s in secret_paths)
        message, hint = _describe(item, loc, secret=secret, known_keys=known_keys)
        field = format_key_path((*field_prefix, *loc))
        errors.append(error(message, location=locate(loc), field=field, hint=hint))
    if len(errors) == 1:
        return errors[0]
    return MultipleInputErrors(errors)


def _key_path(item: Any) -> KeyPath:
    """``loc`` without pydantic's union tags; an unknown key is always kept, even ``a[b``."""
    if not item["loc"]:
        return ()
    *parents, last = item["loc"]
    kept = tuple(p for p in parents if not _is_union_tag(p))
    if item["type"] == "extra_forbidden" or not _is_union_tag(last):
        return (*kept, last)
    return kept


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the union member's type name into loc, e.g. ('repos', 0, 'str', ...)
    return isinstance(part, str) and (part.startswith("function-") or "[" in part)


def _describe(
    item: Any,
    loc: KeyPath,
    *,
    secret: bool,
    known_keys: Callable[[KeyPath], Collection[str]] | None,
) -> tuple[str, str | None]:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    got = "" if secret else _show(item.get("input"))
    if kind == "extra_forbidden":
        choices = list(known_keys(loc[:-1])) if known_keys else []
        hint = did_you_mean(str(loc[-1]), choices) if choices else None
        if hint is None and choices:
            hint = "allowed keys: " + ", ".join(sorted(choices))
        return "unknown key", hint
    if kind == "missing":
        return "required but missing", None
    if kind in {"literal_error", "enum"}:
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"expected one of {expected}; got {got}", None
    message = str(item["msg"])
    message = message[0].lower() + message[1:] if message else message
    message = message.removeprefix("value error, ")
    if got and kind not in {"value_error", "assertion_error"}:
        message += f"; got {got}"
    return message, None


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = quoted(value[:MAX_SHOWN])
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def quoted(text: str) -> str:
    """``text`` in double quotes with unprintable characters escaped the way Python writes them.

    Values in messages come from user input: a raw newline would split the message and an ESC
    would reach the terminal (``\\e]0;TITLE\\a`` sets its title), so ``\\n`` and ``\\x1b`` are
    shown instead.
    """
    return f'"{escaped(text)}"'


def escaped(text: str) -> str:
    """``text`` with unprintable characters escaped (``\\n``, ``\\x1b``), for messages."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def model_keys(root: type[BaseModel], key_path: KeyPath) -> list[str]:
    """Keys allowed in the mapping at ``key_path`` of ``root``, for did-you-mean hints.

    List indexes are skipped, and so is the user-chosen key after a ``dict[str, Model]`` field
    (``workflows.<name>.steps``). An unknown path has no keys.
    """
    model: type[BaseModel] | None = root
    map_key_next = False
    for part in key_path:
        if isinstance(part, int):
            continue
        if map_key_next:
            map_key_next = False
            continue
        assert model is not None
        field = _fields(model).get(str(part))
        model = _model_of(field.annotation) if field is not None else None
        if model is None or field is None:
            return []
        map_key_next = _is_mapping(field.annotation)
    return list(_fields(model)) if model is not None else []


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``X``, ``X | None``, ``list[X]`` or ``dict[str, X]``, if any."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _is_mapping(annotation: Any) -> bool:
    if typing.get_origin(annotation) is dict:
        return True
    return any(typing.get_origin(arg) is dict for arg in typing.get_args(annotation))
