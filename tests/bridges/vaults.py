"""Reading a vault back the way Obsidian would: front matter, wikilinks, notes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_FENCED = re.compile(r"^(`{3,})[^\n]*\n.*?^\1\s*$", re.MULTILINE | re.DOTALL)
_WIKILINK = re.compile(r"\[\[([^\]|#]+)(?:#[^\]|]*)?(?:\|[^\]]*)?\]\]")


def front_matter(path: Path) -> dict[str, Any]:
    """The note's YAML front matter, parsed (the note must start with one)."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), text[:80]
    head = text[4:].split("\n---\n", 1)[0]
    data = yaml.safe_load(head)
    assert isinstance(data, dict)
    return data


def wikilinks(path: Path) -> list[str]:
    """The targets of the note's ``[[links]]`` outside fenced code (where Obsidian renders none)."""
    text = _FENCED.sub("", path.read_text(encoding="utf-8"))
    return _WIKILINK.findall(text)


def unresolved_links(vault: Path) -> list[str]:
    """``note -> target`` for every link of every note whose target note does not exist."""
    return [
        f"{note.relative_to(vault)} -> {target}"
        for note in sorted(vault.rglob("*.md"))
        for target in wikilinks(note)
        if not (vault / f"{target}.md").is_file()
    ]


def notes(root: Path) -> list[str]:
    """Every file under ``root``, relative, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
