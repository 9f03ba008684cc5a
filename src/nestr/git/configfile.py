"""Read and write ``.git/config`` values and small ``.git`` files without starting git.

Writing is only for a fresh clone, whose config git itself just wrote in the plain layout
(``[remote "origin"]`` then ``<tab>url = …``), before the clone is renamed into place. Values
follow git-config's quoting: ``"``, ``\\``, newline and tab are escaped, and a value with ``;``,
``#``, a carriage return or edge blanks is put in double quotes, so that git reads back exactly
the string written. Reading understands the same quoting, escapes and comments.
"""

from __future__ import annotations

import re
from pathlib import Path

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}
_UNESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "b": "\b"}
_BLANKS = " \t\v\f\r"  # C isspace(), which git uses (not str.isspace)
_SECTION = re.compile(r'^\s*\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]')


def quote_value(value: str) -> str:
    """``value`` as git writes it in a config file."""
    escaped = "".join(_ESCAPES.get(char, char) for char in value)
    # git's own writer leaves \r, \v and \f bare, and reads them back as spaces: quote them too
    needs_quotes = value != value.strip(_BLANKS) or any(c in value for c in ";#\r\v\f")
    return f'"{escaped}"' if needs_quotes else escaped


def parse_value(raw: str) -> str:
    """The value of the text after ``=`` (quotes, escapes and comments as git reads them)."""
    out: list[str] = []
    pending_space = ""
    quoted = False
    chars = iter(raw.strip(_BLANKS + "\n"))
    for char in chars:
        if char == '"':
            quoted = not quoted
        elif char == "\\":
            out.append(pending_space + _UNESCAPES.get(next(chars, ""), ""))
            pending_space = ""
        elif not quoted and char in ";#":
            break
        elif not quoted and char in _BLANKS:
            pending_space += " "  # as git: each blank kept as a space, trailing ones dropped
        else:
            out.append(pending_space + char)
            pending_space = ""
    return "".join(out)


def read_value(config: Path, section: str, subsection: str, key: str) -> str | None:
    """The first value of ``section.subsection.key`` (None if absent or unreadable).

    The first, as ``git remote get-url`` shows for a remote with several URLs.
    """
    try:
        lines = _lines(config)
    except (OSError, UnicodeDecodeError):
        return None
    inside = False
    for line in lines:
        header = _SECTION.match(line)
        if header:
            inside = _is_section(header, section, subsection)
        elif inside and "=" in line and line.split("=", 1)[0].strip().lower() == key:
            return parse_value(line.split("=", 1)[1])
    return None


def replace_value(config: Path, section: str, subsection: str, key: str, value: str) -> bool:
    """Set the one existing ``key`` line of the section to ``value``, in place.

    Returns False and changes nothing unless the key appears exactly once in that section:
    anything unusual is left to ``git config``. Not atomic: only for a repository nobody
    uses yet (see :func:`overwrite`).
    """
    lines = _lines(config)
    inside = False
    hits: list[int] = []
    for index, line in enumerate(lines):
        header = _SECTION.match(line)
        if header:
            inside = _is_section(header, section, subsection) and line.strip().endswith("]")
        elif inside and "=" in line and line.split("=", 1)[0].strip().lower() == key:
            hits.append(index)
    if len(hits) != 1:
        return False
    lines[hits[0]] = f"\t{key} = {quote_value(value)}"
    overwrite(config, "\n".join(lines))
    return True


def overwrite(path: Path, text: str) -> None:
    """Replace the content of an existing file of a repository that is not in place yet.

    Written over the old bytes, then cut to length: ext4 flushes a file that is truncated to
    zero or renamed over (``auto_da_alloc``), which costs milliseconds per file while many
    clones write at once. Atomicity is not needed: a repository half-made is never renamed
    into the workspace.
    """
    with path.open("r+", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.truncate()


def _lines(path: Path) -> list[str]:
    """The file split at ``\\n`` only, as git reads it (``\\r`` or U+2028 end no line)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read().split("\n")


def _is_section(header: re.Match[str], section: str, subsection: str) -> bool:
    name, sub = header.group(1), header.group(2)
    return name.lower() == section and sub is not None and parse_value(f'"{sub}"') == subsection
