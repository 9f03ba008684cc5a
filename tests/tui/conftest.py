"""TUI tests: a project whose workflows retry, fail and hang, run for real through the CLI
into the test's own store."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.tui.helpers import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    return Project(root)
