"""Validated inputs kept between commands, keyed by what they were made from.

Reading ``nestr.yaml`` or the config layers means importing YAML and pydantic and validating
every value: about 0.1 s before a command can start its real work. A quick command (``nestr
status``) run again on unchanged inputs should not pay that. An entry holds the *result* of a
validation (plain JSON) together with a fingerprint of every input it was made from: for each
file its path, size, inode, modification and change times (or that it did not exist), and any
other values the caller names (environment variables, flags). An entry whose fingerprint differs
is ignored, so editing a file, adding one that was missing or changing a variable always leads
back to the full, validating path.

Three rules keep an entry from hiding an edit:

- The fingerprint can be taken *before* the inputs are read (:func:`fingerprint`, then
  ``store(..., taken=...)``): an edit made while they are being read then changes the stamps,
  nothing is written, and the next command reads again.
- An entry is not written while any input was modified in the last :data:`RACY_SECONDS`: a
  file rewritten within the file system's timestamp granularity could keep its size and times,
  the same "racy" case git handles for its index. The next command writes it instead.
- Change time (``st_ctime_ns``) is part of the fingerprint; unlike modification time no user
  tool sets it back.

Entries live under ``$XDG_CACHE_HOME/nestr/inputs/`` (not under the configurable ``cache_dir``,
which is itself one of the inputs). They are written atomically and can be deleted at any time;
``NESTR_NO_INPUT_CACHE=1`` turns the cache off. This module imports nothing heavy: it runs
before anything else is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nestr import __version__

FORMAT = 1
RACY_SECONDS = 2.0
DISABLE_ENV = "NESTR_NO_INPUT_CACHE"


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/nestr/inputs`` (``~/.cache/nestr/inputs`` when unset)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nestr" / "inputs"


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """False when ``NESTR_NO_INPUT_CACHE`` is set to anything but ``0`` or empty.

    Also False when no absolute cache directory can be found (no home directory and no
    absolute ``XDG_CACHE_HOME``): entries must never land in the working directory.
    """
    env = os.environ if environ is None else environ
    return env.get(DISABLE_ENV, "") in ("", "0") and cache_root(env).is_absolute()


def file_stamp(path: Path) -> list[Any]:
    """What identifies one version of ``path``: size, inode, mtime and ctime, or ``None``."""
    try:
        st = path.stat()
    except OSError:
        return [str(path), None]
    return [str(path), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def fingerprint(files: Iterable[Path], extra: Any = None) -> list[Any]:
    """The fingerprint of ``files`` (existing or not) and ``extra`` (any JSON value)."""
    return [FORMAT, __version__, [file_stamp(p) for p in files], extra]


def _entry_path(kind: str, key: str, environ: Mapping[str, str] | None) -> Path:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return cache_root(environ) / f"{kind}-{digest}.json"


def load(kind: str, key: str, environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The stored entry ``{"files": [...], "extra": ..., "value": ...}`` for ``key``, if any.

    The caller re-computes the fingerprint from the entry's ``files`` (the inputs it named last
    time, which may include files found while validating) and compares with :func:`matches`.
    """
    if not enabled(environ):
        return None
    try:
        raw = _entry_path(kind, key, environ).read_bytes()
        entry = json.loads(raw)
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    return entry


def matches(entry: Mapping[str, Any], extra: Any = None) -> bool:
    """True when the files named in ``entry`` and ``extra`` are exactly as they were."""
    try:
        files = [Path(stamp[0]) for stamp in entry["fingerprint"][2]]
    except (KeyError, IndexError, TypeError):  # a damaged entry is a miss, never an error
        return False
    return bool(entry["fingerprint"] == _as_json(fingerprint(files, extra)))


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def store(
    kind: str,
    key: str,
    files: Iterable[Path],
    value: Any,
    *,
    extra: Any = None,
    environ: Mapping[str, str] | None = None,
    taken: list[Any] | None = None,
) -> bool:
    """Write an entry; skipped (False) when disabled, racy, changed, not JSON or not writable.

    ``taken`` is the fingerprint taken before the inputs were read; when the inputs differ from
    it now, they changed while being read and nothing is written.
    """
    if not enabled(environ):
        return False
    print_ = fingerprint(files, extra)
    if taken is not None and _as_json(taken) != _as_json(print_):
        return False
    if _racy(print_):
        return False
    try:
        data = json.dumps({"key": key, "fingerprint": print_, "value": value}).encode()
    except (TypeError, ValueError):  # a value JSON cannot hold (e.g. a YAML date)
        return False
    target = _entry_path(kind, key, environ)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(target)
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True


def _racy(print_: list[Any]) -> bool:
    newest = max((stamp[3] for stamp in print_[2] if stamp[1] is not None), default=0)
    return newest >= (time.time() - RACY_SECONDS) * 1e9
