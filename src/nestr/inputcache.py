"""Validated inputs kept between commands, keyed by the content they were made from.

Reading ``nestr.yaml`` or the config layers means importing YAML and pydantic and validating
every value: about 0.1 s before a command can start its real work. A quick command (``nestr
status``) run again on unchanged inputs should not pay that. An entry holds the *result* of a
validation (plain JSON) together with a fingerprint of every input it was made from: for each
file a digest of its text (or that it did not exist), and any other values the caller names
(environment variables, flags). An entry whose fingerprint differs is ignored, so editing a
file, adding one that was missing or changing a variable always leads back to the full,
validating path.

Content, not time stamps: a file rewritten within the file system's time stamp granularity can
keep its size and times (the "racy" case git's index works around), but never its content, and
hashing a manifest of a few kilobytes costs microseconds. Digests are taken of what the loader
actually parsed (:func:`text_digest`, recorded by ``nestr.yamlsource``) or before the inputs are
read (``store(..., taken=...)``): when the files differ from that by the time the entry would be
written, they changed while being read, and nothing is written.

Entries live under ``$XDG_CACHE_HOME/nestr/inputs/`` (not under the configurable ``cache_dir``,
which is itself one of the inputs). They are written atomically and can be deleted at any time;
``NESTR_NO_INPUT_CACHE=1`` turns the cache off. This module imports nothing heavy: it runs
before anything else is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nestr import __version__

FORMAT = 3  # bump whenever what a valid input is changes: older entries skip the new checks
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


def text_digest(text: str) -> str:
    """The digest of a file's text as a loader read it (``read_text``: newlines normalised)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def file_stamp(path: Path) -> list[Any]:
    """What identifies one version of ``path``: the digest of its text, or ``None`` if absent.

    Text that is not UTF-8 gets a digest of its bytes (marked ``!``): such a file only ever
    fails to load, and a failure is never stored, but it must still count as changed.
    """
    try:
        raw = path.read_bytes()
    except OSError:
        return [str(path), None]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return [str(path), "!" + hashlib.blake2b(raw, digest_size=16).hexdigest()]
    # read_text() turns \r\n and \r into \n: hash the text the way loaders see it
    return [str(path), text_digest(text.replace("\r\n", "\n").replace("\r", "\n"))]


def fingerprint(files: Iterable[Path], extra: Any = None) -> list[Any]:
    """The fingerprint of ``files`` (existing or not) and ``extra`` (any JSON value)."""
    return [FORMAT, __version__, [file_stamp(p) for p in files], extra]


def stamped(stamps: Iterable[tuple[Path, str | None]], extra: Any = None) -> list[Any]:
    """The fingerprint of files whose digests were taken when they were read."""
    return [FORMAT, __version__, [[str(path), digest] for path, digest in stamps], extra]


def _entry_path(kind: str, key: str, environ: Mapping[str, str] | None) -> Path:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return cache_root(environ) / f"{kind}-{digest}.json"


def load(kind: str, key: str, environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The stored entry ``{"key": ..., "fingerprint": ..., "value": ...}`` for ``key``, if any.

    Whether it still holds is :func:`matches`' answer: the fingerprint is taken again from the
    files the entry names (which may include files found while validating, such as imports).
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


def lookup(
    kind: str,
    key: str,
    extra: Any = None,
    environ: Mapping[str, str] | None = None,
    *,
    taken: list[Any] | None = None,
) -> Any:
    """The value stored for ``key`` while its inputs are unchanged; None otherwise.

    ``taken``: the current fingerprint, when the caller has just taken it (the inputs are then
    not read a second time to compare).
    """
    entry = load(kind, key, environ)
    if entry is None:
        return None
    if taken is not None:
        fresh = entry.get("fingerprint") == _as_json(taken)
    else:
        fresh = matches(entry, extra)
    return entry.get("value") if fresh else None


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
    """Write an entry; skipped (False) when disabled, changed, not JSON or not writable.

    ``taken`` is the fingerprint of what was read (taken before reading, or from the digests of
    the text parsed); when the inputs differ from it now, they changed while being read and
    nothing is written.
    """
    if not enabled(environ):
        return False
    print_ = fingerprint(files, extra)
    if taken is not None and _as_json(taken) != _as_json(print_):
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
