"""Plain-text tables: aligned columns, colour only when asked for, and only on a terminal."""

from __future__ import annotations

import click
import pytest

from nestr.cli.table import Cell, render_table, use_color

ROWS = [
    [Cell("api"), Cell("clean", "green"), Cell("origin/main")],
    [Cell("platform-config"), Cell("2 untracked", "yellow"), Cell("-")],
]


def test_columns_line_up_and_lines_end_without_blanks() -> None:
    """Every column starts where the widest cell above or below it ends, two spaces apart."""
    lines = render_table(["repo", "changes", "upstream"], ROWS, color=False).splitlines()
    assert lines == [
        "repo             changes      upstream",
        "api              clean        origin/main",
        "platform-config  2 untracked  -",
    ]


def test_colour_marks_cells_and_headers_but_keeps_the_alignment() -> None:
    """With colour, cells carry their ANSI colour and headers are bold; stripping the codes
    gives the plain table."""
    plain = render_table(["repo", "changes", "upstream"], ROWS, color=False)
    coloured = render_table(["repo", "changes", "upstream"], ROWS, color=True)
    assert click.style("clean", fg="green") in coloured
    assert click.style("repo", bold=True) in coloured
    assert click.unstyle(coloured) == plain


def test_colour_needs_a_terminal_and_no_NO_COLOR(monkeypatch: pytest.MonkeyPatch) -> None:
    """Piped output is never coloured, and NO_COLOR turns colour off on a terminal too."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert not use_color()
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert use_color()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color()
