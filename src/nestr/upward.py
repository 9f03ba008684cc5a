"""Find a file in a directory or the nearest parent that has it (``nestr.yaml``, project config)."""

from __future__ import annotations

from pathlib import Path


def find_upward(start: Path, filename: str) -> Path | None:
    """The nearest ``filename`` in ``start`` or one of its parents; None if there is none."""
    for directory in (start, *start.parents):
        candidate = directory / filename
        if candidate.is_file():
            return candidate
    return None
