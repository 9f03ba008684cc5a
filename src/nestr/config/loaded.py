"""The result of loading the configuration: settings plus where each value came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nestr.config.layers import Origin
from nestr.config.settings import (
    CREDENTIALS_KEY,
    PLUGINS_KEY,
    SECRET_PATH_KEYS,
    Settings,
    credential_key,
    is_secret_key,
    plugin_key,
    webhook_key,
)


@dataclass(frozen=True)
class LoadedConfig:
    """Validated settings, the origin of every value, and the files that were read."""

    settings: Settings
    origins: dict[str, Origin]
    files: tuple[Path, ...] = field(default_factory=tuple)

    def values(self) -> dict[str, Any]:
        """Dotted key → value, secrets masked; the shape ``config show --json`` prints."""
        return {key: display_value(self.settings, key) for key in sorted(self.origins)}


def display_value(settings: Settings, dotted: str) -> Any:
    """The value of ``dotted`` for people and JSON: secrets masked, paths as strings."""
    value: Any = settings
    named = credential_key(dotted)
    hook = webhook_key(dotted)
    if named is not None:  # git.credentials.<name>.<field>: an entry found by its name
        entry = next(c for c in settings.git.credentials if c.name == named[0])
        value = getattr(entry, named[1])
    elif hook is not None:  # webhooks.<name>.<field>, likewise
        endpoint = next(w for w in settings.webhooks if w.name == hook[0])
        value = getattr(endpoint, hook[1])
    elif (plugin := plugin_key(dotted)) is not None:  # plugins.<name>.command
        return list(next(p for p in settings.plugins if p.name == plugin[0]).command)
    elif dotted in (CREDENTIALS_KEY, "webhooks", PLUGINS_KEY):
        return {}  # shown only while empty: entries show as <key>.<name>.<field>
    else:
        for part in dotted.split("."):
            value = getattr(value, part)
    if is_secret_key(dotted) or dotted in SECRET_PATH_KEYS:
        return None if value is None else "********"
    if isinstance(value, Path):
        return str(value)
    return list(value) if isinstance(value, tuple) else value
