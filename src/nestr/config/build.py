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
from nestr.config.settings import (
    CREDENTIAL_FIELDS,
    CREDENTIALS_KEY,
    LEAF_KEYS,
    PATH_KEYS,
    PLUGINS_KEY,
    SECRET_KEYS,
    SECRET_PATH_KEYS,
    SECTION_KEYS,
    WEBHOOK_FIELDS,
    WEBHOOKS_KEY,
    credential_key,
    is_known_key,
    is_secret_key,
    plugin_key,
    webhook_key,
)
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
    for key_path, value in secrets_dir_values(inputs.environ, SECRET_KEYS, is_secret_key):
        merged[key_path] = value
    env = env_values(inputs.environ, set(LEAF_KEYS) | _file_keys(), _is_named_key)
    for key_path, value in env:
        merged.update([_secret_file_value(key_path, value)])
    for key_path, value in set_values(inputs.sets, set(LEAF_KEYS), _is_named_key):
        merged[key_path] = value
    for dotted, (raw, origin) in inputs.flag_values.items():
        if raw is not None:
            merged[tuple(dotted.split("."))] = Value(
                raw, Origin("flag", SourceLocation(origin=origin))
            )
    return _validate(merged, inputs.cwd, tuple(files_read))


def _file_keys() -> set[str]:
    return {f"{key}_file" for key in SECRET_KEYS}


def _is_named_key(dotted: str) -> bool:
    """A field of a named credential or webhook, or its ``token_file``/``secret_file``; a field
    of a named plugin."""
    plugin = plugin_key(dotted)
    if plugin is not None and plugin[1]:
        return True
    found = credential_key(dotted.removesuffix("_file")) or webhook_key(
        dotted.removesuffix("_file")
    )
    if found is None or not found[1]:
        return False
    return found[1] in ("token", "secret") or not dotted.endswith("_file")


def _file_value(key_path: KeyPath, value: Value, key_loc: SourceLocation) -> tuple[KeyPath, Value]:
    dotted = ".".join(str(p) for p in key_path)
    if key_path[:2] == ("git", "credentials") and len(key_path) > 2:
        _check_credential_name(key_path, key_loc)
    if key_path[:1] == (WEBHOOKS_KEY,) and len(key_path) > 2 and "." in str(key_path[1]):
        raise ConfigError(
            "a webhook's name is lower-case letters, digits and single underscores",
            location=key_loc,
            field=format_key_path(key_path[:2]),
            hint="name it e.g. `ci` and give the address as `url: https://...`",
        )
    if is_known_key(dotted):
        return _relative_path(key_path, value)
    if dotted in _file_keys() or _is_named_key(dotted):
        return _secret_file_value(key_path, value)
    siblings = sorted(LEAF_KEYS | SECTION_KEYS | _file_keys())
    if key_path[:2] == ("git", "credentials") and len(key_path) == 4:
        prefix = ".".join(str(p) for p in key_path[:3]) + "."
        siblings = [prefix + name for name in (*CREDENTIAL_FIELDS, "token_file")]
    if key_path[:1] == (WEBHOOKS_KEY,) and len(key_path) == 3:
        prefix = ".".join(str(p) for p in key_path[:2]) + "."
        siblings = [prefix + name for name in (*WEBHOOK_FIELDS, "secret_file")]
    raise ConfigError(
        "unknown key",
        location=key_loc,
        field=format_key_path(key_path),
        hint=did_you_mean(dotted, siblings)
        or "see `nestr config show` for the settings that exist",
    )


def _check_credential_name(key_path: KeyPath, key_loc: SourceLocation) -> None:
    """A name with a dot (``github.com:``) would read as more keys: say what a name is."""
    dotted = ".".join(str(p) for p in key_path)
    if "." in str(key_path[2]) and not _is_named_key(dotted):
        raise ConfigError(
            "a credential's name is lower-case letters, digits and single underscores",
            location=key_loc,
            field=format_key_path(key_path[:3]),
            hint="name it e.g. `github` and give the host as `host: github.com`",
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
    if not dotted.endswith("_file") or not is_secret_key(dotted.removesuffix("_file")):
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
            # A missing field of a credential: point at the entry, through a field it has.
            inside = next((k for k in merged if k[: len(probe)] == probe), None)
            named = probe[:2] == ("git", "credentials") or probe[:1] == (WEBHOOKS_KEY,)
            if inside is not None and named:
                return merged[inside].origin.location
            probe = probe[:-1]
        return SourceLocation(origin="default")

    try:
        model = Settings.model_validate(_nest(merged))
    except ValidationError as exc:
        raise translate(
            exc,
            locate=locate,
            error=ConfigError,
            secret_paths=[tuple(k.split(".")) for k in SECRET_KEYS | SECRET_PATH_KEYS]
            + [("git", "credentials")]
            + [(WEBHOOKS_KEY, str(k[1]), "secret") for k in merged if k[:1] == (WEBHOOKS_KEY,)],
        ) from None
    settings = _absolute_paths(to_settings(model), cwd)
    origins = {key: Origin("default") for key in LEAF_KEYS}
    for key_path, value in merged.items():
        origins[".".join(str(p) for p in key_path)] = value.origin
    if settings.plugins:  # shown as plugins.<name>.command
        del origins[PLUGINS_KEY]
    return LoadedConfig(
        settings=settings, origins=_credential_origins(settings, origins), files=files
    )


def _credential_origins(settings: values.Settings, origins: dict[str, Origin]) -> dict[str, Origin]:
    """One origin per field of each credential and webhook (defaults included), none for the
    empty map."""
    if settings.git.credentials:
        del origins[CREDENTIALS_KEY]
    for entry in settings.git.credentials:
        for name in CREDENTIAL_FIELDS:
            origins.setdefault(f"{CREDENTIALS_KEY}.{entry.name}.{name}", Origin("default"))
    if settings.webhooks:
        del origins[WEBHOOKS_KEY]
    for hook in settings.webhooks:
        for name in WEBHOOK_FIELDS:
            origins.setdefault(f"{WEBHOOKS_KEY}.{hook.name}.{name}", Origin("default"))
    return origins


def _absolute_paths(settings: values.Settings, cwd: Path) -> values.Settings:
    updates = {
        key: cwd / getattr(settings, key)
        for key in PATH_KEYS
        if "." not in key and not getattr(settings, key).is_absolute()
    }
    key_file = settings.git.ssh_key_file
    if key_file is not None and not key_file.is_absolute():
        updates["git"] = replace(settings.git, ssh_key_file=cwd / key_file)
    tls = settings.server.tls
    tls_updates = {
        name: cwd / path
        for name in ("cert", "key", "client_ca", "ca", "client_cert", "client_key")
        if (path := getattr(tls, name)) is not None and not path.is_absolute()
    }
    if tls_updates:
        updates["server"] = replace(settings.server, tls=replace(tls, **tls_updates))
    return replace(settings, **updates) if updates else settings
