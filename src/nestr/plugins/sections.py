"""What a plugin learns of nestr's config: its own section, as JSON in its environment.

A plugin named ``NAME`` gets the ``NAME:`` section of the settings (``obsidian:`` for the
Obsidian bridge) in ``NESTR_PLUGIN_SETTINGS`` when nestr starts it, with every secret value
left out (a plugin that needs a secret reads its own ``*_file``); a plugin without a section
of that name gets nothing. A plugin reads no config file, so this is the one way a setting
reaches it; a change reaches it at its next start.
"""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from pathlib import PurePath
from typing import Any

from nestr.config.settings import Secret
from nestr.plugin import handshake


def section_env(settings: object | None, plugin: str) -> dict[str, str]:
    """The environment that hands ``plugin`` its section of ``settings`` (empty: none)."""
    section = getattr(settings, plugin, None) if settings is not None else None
    if not is_dataclass(section) or isinstance(section, type):
        return {}
    return {handshake.SETTINGS_ENV: json.dumps(_public(section), sort_keys=True)}


def _public(value: Any) -> Any:
    """``value`` as JSON-like data without its secrets."""
    if is_dataclass(value) and not isinstance(value, type):
        found = {f.name: getattr(value, f.name) for f in fields(value)}
        return {k: _public(v) for k, v in found.items() if not _secret(v)}
    if isinstance(value, dict):
        return {str(k): _public(v) for k, v in value.items() if not _secret(v)}
    if isinstance(value, list | tuple | set | frozenset):
        return [_public(v) for v in value if not _secret(v)]
    if isinstance(value, PurePath):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _secret(value: Any) -> bool:
    return isinstance(value, Secret)
