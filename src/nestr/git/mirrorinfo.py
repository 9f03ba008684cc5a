"""Where a URL's mirror lives and what its files say, read without starting git.

``<cache_dir>/mirrors/<name>-<hash>.git``: the name for people, the hash of the URL so that each
URL has one mirror. Its ``nestr-mirror.json`` records the URL, the time of the last fetch and the
depth a shallow mirror was made with (see ``nestr.git.mirror``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from nestr.git.shallow import is_shallow

META_FILE = "nestr-mirror.json"


def mirror_name(url: str) -> str:
    """``<readable>-<hash>.git``: readable for people, unique per URL."""
    tail = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git")
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip(".-") or "repo"
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    return f"{readable[:40]}-{digest}.git"


@dataclass(frozen=True)
class Mirror:
    """Where the mirror of ``url`` lives (it may not exist yet)."""

    url: str
    path: Path

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @property
    def meta_path(self) -> Path:
        return self.path / META_FILE

    def last_fetch(self) -> float | None:
        """Unix time of the last successful fetch, or None if never (or unreadable)."""
        try:
            return float(json.loads(self.meta_path.read_text(encoding="utf-8"))["fetched"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def shallow_depth(self) -> int | None:
        """None for a full mirror; else the depth it was created with (0 if unrecorded)."""
        if not is_shallow(self.path):
            return None
        try:
            depth = json.loads(self.meta_path.read_text(encoding="utf-8"))["depth"]
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        return depth if isinstance(depth, int) and depth > 0 else 0

    def looks_healthy(self) -> bool:
        """A bare repository with its parts in place (checked without starting git)."""
        path = self.path
        if not (path / "HEAD").is_file() or not (path / "objects").is_dir():
            return False
        try:
            config = (path / "config").read_text(encoding="utf-8")
        except OSError:
            return False
        return "bare = true" in config and (path / "refs").is_dir()
