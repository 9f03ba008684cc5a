"""A vault as nestr writes it: paths kept inside, titles made file names, managed blocks.

Every note nestr writes is ``front matter + the person's text + nestr's block``: the block
between ``<!-- >>> nestr managed: ID >>> -->`` markers is the sync feature's managed block
(:mod:`nestr.sync.blocks`, the same markers and splice), so a rewrite replaces only the block
and nestr's front matter keys (:mod:`.frontmatter`); what a person wrote around them stays.
Writes are atomic (:mod:`nestr.atomicfile`). A title becomes a file name Obsidian accepts;
a folder may not climb out (``..``) or pass through a symlink (:mod:`nestr.symlinks`), so a
hostile title or folder can only ever name a note inside the vault.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from nestr.atomicfile import write_atomic
from nestr.bridges.context import StepFailed
from nestr.bridges.obsidian import frontmatter
from nestr.symlinks import first_symlink
from nestr.sync.blocks import find_block, markers, splice

NOTE_SUFFIX = ".md"
_DEST = "note.md"  # what the managed-block markers are chosen for: HTML comments, hidden in
# Obsidian's reading view
_FORBIDDEN = re.compile(r'[\\/:*?"<>|#^\[\]\x00-\x1f\x7f]')  # not in an Obsidian file name
_SPACES = re.compile(r"\s+")
MAX_TITLE = 120  # characters
MAX_NAME_BYTES = 200  # of UTF-8: file names end at 255 bytes, and ".md" and a temp prefix follow


def note_title(title: str) -> str:
    """``title`` as a note's file name (without ``.md``): forbidden characters become ``-``,
    no leading dot, at most :data:`MAX_TITLE` characters and :data:`MAX_NAME_BYTES` bytes;
    ``untitled`` when nothing is left."""
    text = unicodedata.normalize("NFC", str(title))
    text = _SPACES.sub(" ", _FORBIDDEN.sub("-", text)).strip(" .-")[:MAX_TITLE]
    text = text.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", errors="ignore")
    return text.rstrip(" .") or "untitled"


def folder_parts(folder: str) -> tuple[str, ...]:
    """``folder`` (``a/b``) as safe parts; ``..`` or an absolute path is refused."""
    path = PurePosixPath(str(folder).replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise StepFailed(
            f"obsidian: folder {folder!r} must stay inside the vault (no `..`, no `/`)"
        )
    return tuple(note_title(part) for part in path.parts if part not in ("", "."))


@dataclass(frozen=True)
class Vault:
    """A vault directory nestr writes notes into."""

    root: Path

    @classmethod
    def at(cls, path: Path | str) -> Vault:
        root = Path(path).expanduser()
        if not root.is_dir():
            raise StepFailed(
                f"obsidian: the vault {str(root)!r} is not a directory "
                "(hint: give `vault:` the folder Obsidian opens, or set obsidian.vault)"
            )
        return cls(root.resolve())

    def link(self, folder: str, title: str) -> str:
        """The vault-relative name a ``[[wikilink]]`` uses for note ``title`` in ``folder``."""
        return "/".join((*folder_parts(folder), note_title(title)))

    def path(self, link: str) -> Path:
        """The file of note ``link`` (see :meth:`link`); refused when a symlink is on the way."""
        rel = link + NOTE_SUFFIX
        found = first_symlink(self.root, rel)
        if found is not None:
            raise StepFailed(f"obsidian: {found} is a symlink; nestr writes no note through one")
        path = self.root / rel
        if not path.resolve().is_relative_to(self.root):  # belt and braces over the above
            raise StepFailed(f"obsidian: {rel!r} is outside the vault")
        return path

    def read(self, link: str) -> str | None:
        """Note ``link``'s text, or None when there is no such note."""
        return _read(self.path(link))

    def block(self, link: str, block_id: str) -> str | None:
        """The current body of nestr's block ``block_id`` in note ``link``, if any."""
        text = self.read(link)
        found = None if text is None else find_block(text, _DEST, block_id)
        return None if found is None else found.body

    def write(
        self, link: str, block_id: str, body: str, properties: Mapping[str, Any] | None = None
    ) -> Path:
        """Set nestr's block ``block_id`` of note ``link`` to ``body`` (and its front matter
        keys to ``properties``), keeping everything else the note holds."""
        path = self.path(link)
        try:
            current = _read(path)
            text = _merged(current, block_id, body, properties)
            if text != current:
                write_atomic(path, text.encode("utf-8"))
        except OSError as exc:  # a file where a folder should be, a read-only vault, …
            raise StepFailed(f"obsidian: cannot write {link}{NOTE_SUFFIX}: {exc}") from None
        return path


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except (FileNotFoundError, NotADirectoryError):  # no note (a file where a folder would be)
        return None
    except UnicodeDecodeError:  # rewriting it would change bytes nestr cannot read: leave it
        raise StepFailed(f"obsidian: {path} is not UTF-8 text; nestr leaves it alone") from None


def _merged(
    current: str | None, block_id: str, body: str, properties: Mapping[str, Any] | None
) -> str:
    """``current`` with nestr's block set to ``body`` and its front matter keys merged."""
    head, rest = frontmatter.split(current or "")
    if properties is not None or head is not None:
        top = frontmatter.merged(head, properties or {})
    else:
        top = ""  # a note without front matter gets none unless nestr has keys for it
    return top + splice(rest if current else None, _DEST, block_id, _guarded(body, block_id))


def _guarded(body: str, block_id: str) -> str:
    """``body`` with any line that reads like one of the block's markers indented, so text
    such as a step's log can never end the block early on the next rewrite."""
    fences = set(markers(_DEST, block_id))
    return "".join(
        " " + line if line.rstrip("\n").rstrip() in fences else line
        for line in body.splitlines(keepends=True)
    )
