"""Plugin host tests: the SDK plugin of ``echo_plugin.py`` installed as ``nestr-plugin-echo`` on
PATH, a project whose workflows use it, and marks the plugin's steps leave."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def install(bin_dir: Path, name: str, script: Path) -> Path:
    """An executable ``bin_dir/NAME`` that runs ``script`` with this Python."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / name
    exe.write_text(
        f"#!{sys.executable}\nimport runpy, sys\nsys.path.insert(0, {str(ROOT / 'src')!r})\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n",
        encoding="utf-8",
    )
    exe.chmod(0o755)
    return exe


@pytest.fixture
def marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder the echo plugin's steps leave marks in (``ECHO_STATE``)."""
    folder = tmp_path / "marks"
    folder.mkdir()
    monkeypatch.setenv("ECHO_STATE", str(folder))
    return folder


@pytest.fixture
def echo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marks: Path) -> Path:
    """``nestr-plugin-echo`` on PATH; returns its path."""
    exe = install(tmp_path / "bin", "nestr-plugin-echo", HERE / "echo_plugin.py")
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ['PATH']}")
    return exe


@pytest.fixture
def workflows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Write ``nestr.yaml`` with the given workflows in a project folder, made the cwd."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)

    def write(text: str) -> Path:
        body = textwrap.indent(textwrap.dedent(text).strip("\n"), "  ")
        path = project / "nestr.yaml"
        path.write_text(f"version: 1\nrepos: []\nworkflows:\n{body}\n", encoding="utf-8")
        return path

    return write
