"""Checkout paths: what a repo's ``path`` may be, and the order nested checkouts need.

A path is where a repo lives below the workspace root, so it must stay inside it: relative, no
``..``, not the root itself. Nested paths are allowed (west's zephyr manifest puts
``tools/bsim/components/ext_*`` inside ``tools/bsim/components``), which is why a parent must be
checked out before its children.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import TypeVar


class BadPath(ValueError):
    """A repo path that would leave the workspace or is not a path at all."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def normalize_repo_path(raw: str) -> str:
    """``raw`` as a clean POSIX path relative to the workspace root; :class:`BadPath` if not."""
    if "\\" in raw or PureWindowsPath(raw).drive:
        raise BadPath(
            f"path {raw!r} is not a POSIX path", "write paths with forward slashes, e.g. apps/web"
        )
    pure = PurePosixPath(raw)
    if pure.is_absolute():
        raise BadPath(
            f"absolute path {raw!r} is not allowed",
            f"use a path relative to the workspace root, e.g. {raw.lstrip('/') or 'name'}",
        )
    if ".." in pure.parts:
        raise BadPath(
            f"path {raw!r} leaves the workspace ('..')",
            "use a path inside the workspace, without '..'",
        )
    text = str(pure)
    if text in {"", "."}:
        raise BadPath(
            f"path {raw!r} is the workspace root", "give the repo its own directory, e.g. its name"
        )
    return text


def is_inside(child: str, parent: str) -> bool:
    """Whether normalized ``child`` lies strictly below normalized ``parent``."""
    return child.startswith(parent + "/")


T = TypeVar("T")


def parents_first(items: Sequence[T], path: Callable[[T], str]) -> list[T]:
    """``items`` reordered so each comes after every item whose path contains its path.

    The order is otherwise kept: the sort key is how many other paths contain an item's path,
    and Python's sort is stable.
    """
    paths = [path(item) for item in items]

    def depth(index: int) -> int:
        return sum(1 for other in paths if is_inside(paths[index], other))

    return [items[i] for i in sorted(range(len(items)), key=depth)]
