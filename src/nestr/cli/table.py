"""Aligned text tables for quick commands, without rich.

rich takes about 80 ms to import and lay out a table; ``nestr status`` is meant to finish in
less than twice that. Columns here are padded to their widest cell; colour is added with click
only when stdout is a terminal and ``NO_COLOR`` is unset (https://no-color.org), so piped output
stays plain text that tools can cut and grep.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class Cell:
    """One cell: its text and, optionally, a click colour name (``"red"``, ``"green"``…)."""

    text: str
    color: str | None = None


def use_color() -> bool:
    """Colour only for a terminal, and never when ``NO_COLOR`` is set."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, color: bool) -> str:
    """Rows under bold headers, columns two spaces apart, trailing blanks trimmed."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell.text))
    lines = [_line([Cell(h) for h in headers], widths, color=color, bold=True)]
    lines.extend(_line(row, widths, color=color) for row in rows)
    return "\n".join(lines)


def _line(cells: Sequence[Cell], widths: Sequence[int], *, color: bool, bold: bool = False) -> str:
    parts = []
    last = len(cells) - 1
    for i, cell in enumerate(cells):
        pad = "" if i == last else " " * (widths[i] - len(cell.text))
        text = cell.text
        if color and (cell.color or bold):
            text = click.style(text, fg=cell.color, bold=True if bold else None)
        parts.append(text + pad)
    return "  ".join(parts).rstrip()
