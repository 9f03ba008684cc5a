"""Replacing a file atomically, with the mode a plain write would give it.

The new content goes to a temp file beside the target and is renamed over it, so a reader sees
the old file or the new one, never half of either. ``tempfile.mkstemp`` makes its file 0600
whatever the umask; a file meant to be shared (``nestr.lock``, an exported manifest, a synced
file) is then set to the mode it had, or to ``0666 & ~umask`` as ``open()`` would create it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` via a temp file and rename; keep or set its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        current = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        current = None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".nestr-tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        final = mode if mode is not None else current
        Path(tmp).chmod(final if final is not None else 0o666 & ~_umask())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    # os.umask can only be read by setting it; put it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
