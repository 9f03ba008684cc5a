"""Read, merge and validate every configuration layer: the full path behind ``load_config``.

This is where PyYAML and pydantic are imported; ``nestr.config.loader`` only comes here when the
input cache has no valid entry.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nestr.config import settings as values
from nestr.config.layers import (
    LayerInputs,
    Origin,
    Value,
    config_files,
    env_values,
    flatten_file,
    read_secret,
    secrets_dir_values,
    set_values,
)
from nestr.config.loaded import LoadedConfig
from nestr.config.model import Settings, to_settings
from nestr.config.settings import LEAF_KEYS, PATH_KEYS, SECRET_KEYS, SECTION_KEYS
from nestr.errors import ConfigError, SourceLocation, did_you_mean
from nestr.validation import translate
from nestr.yamlsource import KeyPath, format_key_path, load_yaml_file


def build_config(inputs: LayerInputs) -> LoadedConfig:
    """Read every layer in order, merge them, validate the result (no cache involved)."""
    merged: dict[KeyPath, Value] = {}
    files_read: list[Path] = []
    for path, required in config_files(inputs):
        if not required and not path.is_file():
            continue
        doc = load_yaml_file(path, error=ConfigError)
        files_read.append(path)
        for key_path, value in flatten_file(doc):
            key_path, value = _file_value(key_path, value, doc.locate_key(key_path))
            merged[key_path] = value
    for key_path, value in secrets_dir_values(inputs.environ, SECRET_KEYS):
        merged[key_path] = value
    for key_path, value in env_values(inputs.environ, set(LEAF_KEYS) | _file_keys()):
        merged.update([_secret_file_value(key_path, value)])
    for key_path, value in set_values(inputs.sets, set(LEAF_KEYS)):
        merged[key_path] = value
    for dotted, (raw, origin) in inputs.flag_values.items():
        if raw is not None:
            merged[tuple(dotted.split("."))] = Value(
                raw, Origin("flag", SourceLocation(origin=origin))
            )
    return _validate(merged, inputs.cwd, tuple(files_read))


def _file_keys() -> set[str]:
    return {f"{key}_file" for key in SECRET_KEYS}


def _file_value(key_path: KeyPath, value: Value, key_loc: SourceLocation) -> tuple[KeyPath, Value]:
    dotted = ".".join(str(p) for p in key_path)
    if dotted in LEAF_KEYS or dotted in SECTION_KEYS:
        return _relative_path(key_path, value)
    if dotted in _file_keys():
        return _secret_file_value(key_path, value)
    siblings = sorted(LEAF_KEYS | SECTION_KEYS | _file_keys())
    raise ConfigError(
        "unknown key",
        location=key_loc,
        field=format_key_path(key_path),
        hint=did_you_mean(dotted, siblings)
        or "see `nestr config show` for the settings that exist",
    )


def _relative_path(key_path: KeyPath, value: Value) -> tuple[KeyPath, Value]:
    """Relative cache/state paths in a file are relative to that file, not to the cwd."""
    dotted = ".".join(str(p) for p in key_path)
    file = value.origin.location.file
    if dotted in PATH_KEYS and file is not None and isinstance(value.raw, str):
        raw = Path(value.raw).expanduser()
        if not raw.is_absolute():
            return key_path, Value(str(file.parent / raw), value.origin)
    return key_path, value


def _secret_file_value(key_path: KeyPath, value: Value) -> tuple[KeyPath, Value]:
    dotted = ".".join(str(p) for p in key_path)
    if not dotted.endswith("_file") or dotted.removesuffix("_file") not in SECRET_KEYS:
        return key_path, value
    secret_key = dotted.removesuffix("_file")
    if not isinstance(value.raw, str) or not value.raw:
        raise ConfigError(
            "expected the path of a file holding the secret",
            location=value.origin.location,
            field=dotted,
        )
    path = Path(value.raw).expanduser()
    base = value.origin.location.file
    if not path.is_absolute() and base is not None:
        path = base.parent / path
    origin = Origin("secret-file", SourceLocation(file=path))
    secret = read_secret(path, dotted, value.origin.location)
    return tuple(secret_key.split(".")), Value(secret, origin)


def _nest(merged: dict[KeyPath, Value]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key_path, value in merged.items():
        node = tree
        for part in key_path[:-1]:
            child = node.setdefault(str(part), {})
            if not isinstance(child, dict):  # a scalar given for a section earlier
                child = node[str(part)] = {}
            node = child
        node[str(key_path[-1])] = value.raw
    return tree


def _validate(merged: dict[KeyPath, Value], cwd: Path, files: tuple[Path, ...]) -> LoadedConfig:
    def locate(loc: KeyPath) -> SourceLocation:
        probe = tuple(str(p) for p in loc)
        while probe:
            if probe in merged:
                return merged[probe].origin.location
            probe = probe[:-1]
        return SourceLocation(origin="default")

    try:
        model = Settings.model_validate(_nest(merged))
    except ValidationError as exc:
        raise translate(
            exc,
            locate=locate,
            error=ConfigError,
            secret_paths=[tuple(k.split(".")) for k in SECRET_KEYS],
        ) from None
    settings = _absolute_paths(to_settings(model), cwd)
    origins = {key: Origin("default") for key in LEAF_KEYS}
    for key_path, value in merged.items():
        origins[".".join(str(p) for p in key_path)] = value.origin
    return LoadedConfig(settings=settings, origins=origins, files=files)


def _absolute_paths(settings: values.Settings, cwd: Path) -> values.Settings:
    updates = {
        key: cwd / getattr(settings, key)
        for key in PATH_KEYS
        if not getattr(settings, key).is_absolute()
    }
    return replace(settings, **updates) if updates else settings
