"""Checkout paths: what a repo's ``path`` may be, and the order nested checkouts need.

A path is where a repo lives below the workspace root, so it must stay inside it: relative, no
``..``, not the root itself, no control characters, no leading ``~``. It must not reach into
git's or nestr's own data either: a repo checked out inside another repo's ``.git`` plants hooks
that git runs on the next checkout. So no component may be ``.git`` as any filesystem may see it
(git's own ``verify_path`` rules: any case, trailing dots or spaces, an NTFS ``:`` stream, the
short name ``git~1``), and the first may not be ``.nestr``.

Nested paths are allowed (west's zephyr manifest puts ``tools/bsim/components/ext_*`` inside
``tools/bsim/components``), which is why a parent must be checked out before its children.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TypeVar


class BadPath(ValueError):
    """A repo path that would leave the workspace or is not a path at all."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def normalize_repo_path(raw: str) -> str:
    """``raw`` as a clean POSIX path relative to the workspace root; :class:`BadPath` if not."""
    _refuse_control(raw, "path")
    if "\\" in raw or PureWindowsPath(raw).drive:
        raise BadPath(
            f"path {raw!r} is not a POSIX path", "write paths with forward slashes, e.g. apps/web"
        )
    if raw.startswith("~"):
        raise BadPath(
            f"path {raw!r} starts with '~'",
            "nestr does not expand '~'; use a path relative to the workspace root, e.g. tools",
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
    for part in pure.parts:
        _refuse_component(raw, part)
    if pure.parts and _folded(pure.parts[0]) == ".nestr":
        raise BadPath(
            f"path {raw!r} is inside '.nestr', nestr's own data in the workspace",
            "choose another directory, e.g. without the leading '.nestr/'",
        )
    text = str(pure)
    if text in {"", "."}:
        raise BadPath(
            f"path {raw!r} is the workspace root", "give the repo its own directory, e.g. its name"
        )
    return text


def check_repo_name(raw: str) -> None:
    """:class:`BadPath` unless ``raw`` can name a repo. A name may hold ``/`` but never leads
    out (no ``..``, not absolute) nor holds control characters: it reaches file names, the
    environment (``NESTR_REPO_NAME``), events and terminals."""
    _refuse_control(raw, "name")
    pure = PurePosixPath(raw)
    if pure.is_absolute():
        raise BadPath(
            f"absolute name {raw!r} is not allowed",
            f"write the name without the leading '/', e.g. {raw.lstrip('/') or 'name'}",
        )
    if ".." in pure.parts:
        raise BadPath(
            f"name {raw!r} leaves the workspace ('..')",
            "name the repo without '..' (a name may contain '/')",
        )


def _refuse_control(raw: str, what: str) -> None:
    if any(unicodedata.category(char) == "Cc" for char in raw):
        raise BadPath(
            f"{what} {raw!r} contains control characters",
            f"write the {what} without newlines, tabs or other control characters",
        )


# ".git" as git's verify_path sees it on any filesystem: any case (HFS+, NTFS), trailing dots
# and spaces (dropped by NTFS), an NTFS alternate stream (".git::$INDEX_ALLOCATION"), the 8.3
# short name "git~1".
_DOT_GIT = re.compile(r"(\.git|git~1)[. ]*(:.*)?", re.IGNORECASE | re.DOTALL)


def _refuse_component(raw: str, part: str) -> None:
    if not part.strip():
        raise BadPath(
            f"path {raw!r} has a component that is only whitespace",
            "name every directory of the path with visible characters",
        )
    if _DOT_GIT.fullmatch(part):
        raise BadPath(
            f"path {raw!r} enters a '.git' directory ({part!r})",
            "a repo's path may not contain '.git' (git would run hooks from there); "
            "choose another directory",
        )


def _folded(part: str) -> str:
    """``part`` as a case-folding filesystem that drops trailing dots and spaces sees it."""
    return part.rstrip(". ").casefold()


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


MANIFEST_FILE = "nestr.yaml"


def find_manifest_path(start: Path) -> Path | None:
    """The nearest ``nestr.yaml`` in ``start`` or a parent directory."""
    from nestr.upward import find_upward

    return find_upward(start, MANIFEST_FILE)
