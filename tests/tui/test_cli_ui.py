"""`nestr ui` as a command: it needs a terminal, and NO_COLOR turns colour off."""

from __future__ import annotations

from typing import Any

import pytest
from tests.tui.helpers import Project


def test_ui_without_a_terminal_is_a_usage_error(nestr: Any) -> None:
    """Run with its output captured (no terminal), `nestr ui` exits 2 and says why."""
    result = nestr("ui")
    assert result.code == 2
    assert "needs a terminal" in result.err


def test_no_color_turns_colour_off(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """With NO_COLOR set the app draws in monochrome; without it, in colour."""
    from nestr.tui.app import NestrApp

    assert not NestrApp(project.source()).no_color
    monkeypatch.setenv("NO_COLOR", "1")
    assert NestrApp(project.source()).no_color
