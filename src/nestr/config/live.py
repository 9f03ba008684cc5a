"""Configuration for long-running processes: reload on demand or when a file changes.

A reload re-reads every layer and validates the whole new config before swapping it in; on any
error the old config stays in force and the error (with its location) is reported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nestr.config.layers import PROJECT_FILE, LayerInputs, config_files
from nestr.config.loader import LoadedConfig, load_config
from nestr.config.settings import credential_key, is_secret_key
from nestr.errors import InputError


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did: the changed keys (old, new) or the error that kept the old config."""

    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    error: InputError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class LiveConfig:
    """Holds the config in force and swaps it atomically on a successful reload."""

    def __init__(self, inputs: LayerInputs, current: LoadedConfig | None = None) -> None:
        """``current``: the config already loaded from ``inputs`` (else it is loaded here)."""
        self._inputs = inputs
        self._lock = threading.Lock()
        self._current = current if current is not None else load_config(inputs)

    @property
    def current(self) -> LoadedConfig:
        return self._current

    def watched_files(self) -> list[Path]:
        """Every file whose appearance, change or removal would change the config."""
        paths = [path for path, _ in config_files(self._inputs)]
        # A project file may appear in the working directory or any parent later.
        cwd = self._inputs.cwd
        paths += [d / PROJECT_FILE for d in (cwd, *cwd.parents) if d / PROJECT_FILE not in paths]
        # Files a secret was read from (server.token_file, the secrets dir) count too.
        secrets = {
            o.location.file for o in self._current.origins.values() if o.kind == "secret-file"
        }
        return paths + sorted(p for p in secrets if p is not None and p not in paths)

    def reload(
        self,
        *,
        environ: dict[str, str] | None = None,
        check: Callable[[LoadedConfig], None] | None = None,
    ) -> ReloadResult:
        """Re-read all layers; swap them in only if the whole new config is valid (and passes
        ``check``, which raises an :class:`InputError` for a config its caller cannot use)."""
        inputs = self._inputs if environ is None else replace(self._inputs, environ=environ)
        try:
            new = load_config(inputs)
            if check is not None:
                check(new)
        except InputError as exc:
            return ReloadResult(error=exc)
        with self._lock:
            old, self._current, self._inputs = self._current, new, inputs
        return ReloadResult(changed=_diff(old, new))


def _diff(old_config: LoadedConfig, new_config: LoadedConfig) -> dict[str, tuple[Any, Any]]:
    """Changed keys with their shown values; a changed secret shows as masked on both sides."""
    old, new = old_config.values(), new_config.values()
    return {
        key: (old.get(key), new.get(key))
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
        or (is_secret_key(key) and _secret(old_config, key) != _secret(new_config, key))
    }


def _secret(config: LoadedConfig, dotted: str) -> object:
    """The unmasked value of a secret key (compared, never shown), or None when unset."""
    value: Any = config.settings
    named = credential_key(dotted)
    if named is not None:
        entry = next((c for c in config.settings.git.credentials if c.name == named[0]), None)
        return None if entry is None else getattr(entry, named[1])
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return value


def stat_signature(paths: list[Path]) -> tuple[tuple[int, int, int] | None, ...]:
    """mtime, size and inode of each path (None when absent): a change means a reload."""
    sig: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            sig.append(None)
        else:
            sig.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(sig)


class ConfigWatcher:
    """Polls the config files and reloads when one changes; ``on_reload`` hears every result."""

    def __init__(
        self,
        live: LiveConfig,
        on_reload: Callable[[ReloadResult], None],
        *,
        interval: float = 1.0,
    ) -> None:
        self._live = live
        self._on_reload = on_reload
        self._interval = interval
        self._stop = threading.Event()
        self._paths: list[Path] = []
        self._seen: tuple[tuple[int, int, int] | None, ...] = ()
        self._thread = threading.Thread(target=self._loop, name="nestr-config-watch", daemon=True)

    def start(self) -> None:
        # The baseline is taken before start() returns, so a change right after is never missed.
        self._paths = self._live.watched_files()
        self._seen = stat_signature(self._paths)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> ConfigWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            now = stat_signature(self._paths)
            if now != self._seen:
                self._seen = now
                self._on_reload(self._live.reload())
