"""Bytes of shared files: binary detection, line endings, git blob ids.

Text is compared with line endings normalised to LF, so a target kept in CRLF on Windows is not
"modified" just because of its line endings; when nestr writes such a file it writes CRLF again.
Bases recorded in ``.nestr/sync.lock`` are always the LF form.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Eol = Literal["lf", "crlf"]

# git's own heuristic (buffer_is_binary): a NUL byte in the first 8000 bytes; we look at 8 KiB.
BINARY_PROBE = 8192


def is_binary(data: bytes | None) -> bool:
    """True when ``data`` holds a NUL byte in its first 8 KiB (None is not binary)."""
    return data is not None and b"\0" in data[:BINARY_PROBE]


def detect_eol(data: bytes) -> Eol:
    """``crlf`` when the text uses CRLF line endings, else ``lf``."""
    return "crlf" if b"\r\n" in data else "lf"


def normalize(data: bytes) -> bytes:
    """The LF form of text (binary content is returned unchanged)."""
    if is_binary(data):
        return data
    return data.replace(b"\r\n", b"\n")


def with_eol(data: bytes, eol: Eol) -> bytes:
    """LF text ``data`` written with ``eol`` line endings."""
    if eol == "lf" or is_binary(data):
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def blob_id(data: bytes) -> str:
    """The id ``git hash-object --no-filters`` gives ``data`` (SHA-1 object format)."""
    # Computed here rather than by a git process per file: same bytes, same id, no fork.
    header = b"blob %d\0" % len(data)
    return hashlib.sha1(header + data, usedforsecurity=False).hexdigest()
