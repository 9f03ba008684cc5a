"""A plugin shipped by a Python package: the `nestr.plugins` entry point names its `Plugin`, and
nestr starts it as `python -m nestr.plugin NAME` (how the bundled bridges are found)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import HERE


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site folder holding `echo_plugin` and a distribution declaring it as entry point
    `echo` of group `nestr.plugins`, on this process's and its children's path."""
    site = tmp_path / "site"
    info = site / "echo_plugin_dist-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-plugin-dist\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[nestr.plugins]\necho = echo_plugin:plugin\n")
    shutil.copyfile(HERE / "echo_plugin.py", site / "echo_plugin.py")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), *sys.path]))
    return site


@pytest.mark.usefixtures("installed", "marks")
def test_an_entry_point_plugin_is_found_and_runs(nestr: Any, workflows: Any) -> None:
    """With nothing on PATH or in config, the entry point's plugin serves `echo.say`."""
    workflows("""
        hello:
          steps:
            - {id: a, uses: echo.say, with: {text: from an entry point}}
            - {id: b, needs: [a], run: 'test "${{ steps.a.outputs.said }}" = "from an entry point"'}
    """)
    listed = nestr("plugin", "list")
    assert "echo" in listed.out
    assert "-m nestr.plugin echo  (entry point nestr.plugins)" in listed.out
    done = nestr("run", "hello")
    assert done.code == 0, done
