"""The ``plugins:`` setting: a plugin named in config is found without PATH, and a bad entry is
an error at its file:line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import HERE


@pytest.mark.usefixtures("marks")
def test_a_configured_plugin_runs_in_a_workflow(nestr: Any, workflows: Any) -> None:
    """`plugins: {echo: {command: [...]}}` in the project's config starts the plugin for
    `uses: echo.say` (nothing on PATH), and `nestr plugin list` shows where it came from."""
    path = workflows("""
        hello:
          steps:
            - {id: a, uses: echo.say, with: {text: configured}}
    """)
    script = HERE / "echo_plugin.py"
    (path.parent / "nestr.config.yaml").write_text(
        f"plugins:\n  echo:\n    command: [{sys.executable}, {script}]\n", encoding="utf-8"
    )
    assert nestr("run", "hello").code == 0
    listed = json.loads(nestr("plugin", "list", "--json").out)
    assert {"name": "echo", "command": [sys.executable, str(script)],
            "origin": "the plugins: setting"} in listed  # fmt: skip
    shown = json.loads(nestr("config", "show", "--json").out)
    assert shown["settings"]["plugins.echo.command"] == [sys.executable, str(script)]


def test_a_plugin_without_a_command_is_a_located_error(nestr: Any, tmp_path: Path) -> None:
    """An empty command is refused at its file:line, naming the field."""
    config = tmp_path / "c.yaml"
    config.write_text("plugins:\n  echo:\n    command: []\n", encoding="utf-8")
    done = nestr("--config", str(config), "config", "show")
    assert done.code == 2
    assert "c.yaml:3:" in done.err
    assert "plugins.echo.command" in done.err
