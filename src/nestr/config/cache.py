"""The validated configuration kept between commands (``nestr.inputcache``), so a quick command on
unchanged inputs builds its settings from JSON without importing PyYAML or pydantic.

An entry is keyed by the working directory and system config dir, and matches only while every
other input is as it was: the candidate config files (each existing or not, so a file appearing
misses), every ``NESTR_*`` variable the loader reads, ``HOME`` and ``XDG_*`` (the defaults and
the user config path depend on them), ``--config``, ``--env``, ``--set`` and the flag values.
Those inputs are stored only as a digest.

Nothing secret is ever written: while a secret is in effect (``server.token`` from any layer,
``NESTR_SECRETS_DIR``, a ``*_file`` key) the configuration is not cached at all. An invalid
configuration raises before anything is stored, so a bad file always gives its located error.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from nestr import inputcache
from nestr.config.layers import (
    ENV_PREFIX,
    LOADER_ENV,
    RESERVED_ENV,
    RESERVED_ENV_PREFIXES,
    LayerInputs,
    Origin,
    config_files,
)
from nestr.config.loaded import LoadedConfig
from nestr.config.settings import Settings, settings_from_dict, settings_to_dict
from nestr.errors import SourceLocation

KIND = "config"
# The variables the defaults read from the process environment, whatever `inputs.environ` says.
_DEFAULTS_ENV = ("HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")


def cacheable(inputs: LayerInputs) -> bool:
    """False when the cache is off or a secrets dir may supply a secret."""
    return inputcache.enabled(inputs.environ) and not inputs.environ.get("NESTR_SECRETS_DIR")


class Probe:
    """The key and fingerprint of one set of inputs, taken before any file is read."""

    def __init__(self, inputs: LayerInputs) -> None:
        self.environ = inputs.environ
        self.files = [path for path, _ in config_files(inputs)]
        self.key = json.dumps([str(inputs.cwd), str(inputs.system_dir)])
        self.extra = _digest(inputs, self.files)
        self.taken = inputcache.fingerprint(self.files, self.extra)

    def lookup(self) -> LoadedConfig | None:
        """The stored configuration for these inputs, if it is still valid."""
        value = inputcache.lookup(KIND, self.key, environ=self.environ, taken=self.taken)
        return None if value is None else decode(value)

    def remember(self, loaded: LoadedConfig) -> bool:
        """Store ``loaded`` unless it holds a secret; True when an entry was written."""
        try:
            value = encode(loaded)
        except ValueError:  # a secret is in effect: it must never reach a file
            return False
        return inputcache.store(
            KIND,
            self.key,
            self.files,
            value,
            extra=self.extra,
            environ=self.environ,
            taken=self.taken,
        )


def _digest(inputs: LayerInputs, files: list[Path]) -> str:
    data = {
        "env": {name: value for name, value in inputs.environ.items() if _matters(name)},
        "defaults_env": [os.environ.get(name) for name in _DEFAULTS_ENV],
        "files": [str(f) for f in files],
        "config_files": [str(f) for f in inputs.config_files],
        "env_name": inputs.env_name,
        "sets": list(inputs.sets),
        "flags": dict(inputs.flag_values),
    }
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _matters(name: str) -> bool:
    """Whether a variable can change the loaded configuration."""
    if name == "HOME" or name.startswith("XDG_"):
        return True
    if not name.startswith(ENV_PREFIX) or name.startswith(RESERVED_ENV_PREFIXES):
        return False
    # Reserved names are set by nestr for the processes it starts; the loader reads only a few.
    return name not in RESERVED_ENV or name in LOADER_ENV


def encode(loaded: LoadedConfig) -> dict[str, Any]:
    """JSON for an entry: settings, origins and files (raises ValueError on a secret)."""
    return {
        "settings": settings_to_dict(loaded.settings),
        "origins": {key: _origin_json(origin) for key, origin in loaded.origins.items()},
        "files": [str(f) for f in loaded.files],
    }


def decode(value: Any) -> LoadedConfig | None:
    """The :class:`LoadedConfig` of an entry, or None when the entry is damaged."""
    try:
        settings: Settings = settings_from_dict(value["settings"])
        origins = {key: _origin(item) for key, item in value["origins"].items()}
        files = tuple(Path(f) for f in value["files"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return LoadedConfig(settings=settings, origins=origins, files=files)


def _origin_json(origin: Origin) -> list[Any]:
    loc = origin.location
    file = None if loc.file is None else str(loc.file)
    return [origin.kind, file, loc.line, loc.column, loc.origin]


def _origin(item: list[Any]) -> Origin:
    kind, file, line, column, name = item
    path = None if file is None else Path(file)
    return Origin(kind, SourceLocation(file=path, line=line, column=column, origin=name))
