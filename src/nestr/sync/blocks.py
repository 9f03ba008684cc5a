"""Managed blocks: the part of a file between nestr's marker comments.

A rule with ``policy: managed-block`` owns only the lines between
``<leader> >>> nestr managed: <id> >>>`` and ``<leader> <<< nestr managed: <id> <<<``; the rest of
the file belongs to the repo. The comment leader follows the file's extension so the markers are
comments in the file's own language. All functions here work on LF-normalised text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

_SLASHES = ("//", "")
_HASH = ("#", "")
_DASHES = ("--", "")
_XML = ("<!--", " -->")

_BY_SUFFIX: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        (".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".java", ".js", ".mjs", ".cjs", ".ts"),
        _SLASHES,
    ),
    **dict.fromkeys((".tsx", ".jsx", ".go", ".rs", ".kt", ".kts", ".swift", ".scala"), _SLASHES),
    **dict.fromkeys((".gradle", ".groovy", ".dart", ".proto", ".jsonc", ".php"), _SLASHES),
    **dict.fromkeys((".sql", ".lua", ".hs", ".elm", ".ada"), _DASHES),
    **dict.fromkeys((".md", ".markdown", ".html", ".htm", ".xml", ".svg", ".vue"), _XML),
    ".ini": (";", ""),
    ".tex": ("%", ""),
    ".erl": ("%", ""),
    ".vim": ('"', ""),
    ".bat": ("REM", ""),
    ".cmd": ("REM", ""),
}


def comment_style(dest: str) -> tuple[str, str]:
    """(prefix, suffix) of a line comment in the language of ``dest`` (``#`` by default)."""
    return _BY_SUFFIX.get(PurePosixPath(dest).suffix.lower(), _HASH)


def markers(dest: str, block_id: str) -> tuple[str, str]:
    """The opening and closing marker lines (without newline) of block ``block_id``."""
    prefix, suffix = comment_style(dest)
    return (
        f"{prefix} >>> nestr managed: {block_id} >>>{suffix}",
        f"{prefix} <<< nestr managed: {block_id} <<<{suffix}",
    )


@dataclass(frozen=True)
class BlockSplit:
    """A file cut around its managed block: ``before + open + body + close + after``."""

    before: str
    body: str
    after: str


def find_block(text: str, dest: str, block_id: str) -> BlockSplit | None:
    """Split ``text`` around the block, or None when its markers are not both there in order."""
    opening, closing = markers(dest, block_id)
    lines = text.splitlines(keepends=True)
    stripped = [line.rstrip("\n").rstrip() for line in lines]
    try:
        start = stripped.index(opening)
        end = stripped.index(closing, start + 1)
    except ValueError:
        return None
    return BlockSplit(
        before="".join(lines[:start]),
        body="".join(lines[start + 1 : end]),
        after="".join(lines[end + 1 :]),
    )


def _ensure_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def render_block(dest: str, block_id: str, body: str) -> str:
    """The block with its markers, ending in a newline."""
    opening, closing = markers(dest, block_id)
    return f"{opening}\n{_ensure_newline(body)}{closing}\n"


def splice(text: str | None, dest: str, block_id: str, body: str) -> str:
    """``text`` with its block's body replaced by ``body`` (the block is appended if absent)."""
    block = render_block(dest, block_id, body)
    if text is None:
        return block
    split = find_block(text, dest, block_id)
    if split is None:
        if not text:
            return block
        return _ensure_newline(text) + block
    return split.before + block + split.after


def remove_block(text: str, dest: str, block_id: str) -> str:
    """``text`` without its block (markers included); unchanged when there is none."""
    split = find_block(text, dest, block_id)
    if split is None:
        return text
    return split.before + split.after
