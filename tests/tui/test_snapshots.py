"""SVG snapshots of the main screens over a store with fixed ids and times (layout: a change
of columns, widths or what a cell says shows up as a differing snapshot). Update them with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from tests.tui.fixed_store import START, fill

from nestr.config.settings import Settings
from nestr.session import Session
from nestr.tui.app import NestrApp
from nestr.tui.source import LocalSource


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NestrApp:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    fill(Settings().state_dir, 12)
    source = LocalSource(Session(Settings(), cwd=tmp_path))
    source.where = "local state/nestr.db"  # not the test's temporary path
    return NestrApp(source, clock=lambda: START + 3600)


def test_runs_screen(app: NestrApp, snap_compare: Any) -> None:
    """The Runs screen: newest first, status, start, duration, progress, correlation."""
    assert snap_compare(app, terminal_size=(130, 24), run_before=_settle)


def test_run_screen(app: NestrApp, snap_compare: Any) -> None:
    """The Run screen of the newest run: its steps by layer, fan-out instances (``test[api]``,
    drawn as text, not read as markup), the log and outputs panes."""
    assert snap_compare(app, terminal_size=(130, 30), press=["enter"], run_before=_settle)


def test_help_screen(app: NestrApp, snap_compare: Any) -> None:
    """The help screen lists the keys of every screen."""
    assert snap_compare(app, terminal_size=(130, 30), press=["question_mark"], run_before=_settle)


async def _settle(pilot: Any) -> None:
    await pilot.pause(0.5)
