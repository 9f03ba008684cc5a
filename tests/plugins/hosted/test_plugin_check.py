"""`nestr plugin check`: the conformance driver passes a plugin that follows the protocol and
names each thing a plugin gets wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import HERE, install


@pytest.mark.usefixtures("marks")
def test_an_sdk_plugin_conforms(nestr: Any, tmp_path: Path) -> None:
    """The SDK's plugin passes every check, Cancel mid-execute included, and check exits 0."""
    exe = install(tmp_path / "bin", "nestr-plugin-echo", HERE / "echo_plugin.py")
    done = nestr(
        "plugin", "check", str(exe), "--step", "echo.say", "--with", '{"text": "hi"}',
        "--slow", "echo.wait", "--json",
    )  # fmt: skip
    report = json.loads(done.out)
    assert done.code == 0, report
    names = {f["name"] for f in report["findings"]}
    assert {"handshake", "secret", "describe", "validate good", "execute"} <= names
    assert {"validate missing required", "cancel mid-execute", "shutdown"} <= names
    assert report["start_seconds"] > 0


def test_a_sloppy_plugin_is_reported(nestr: Any, tmp_path: Path) -> None:
    """A plugin that answers without the secret, has no health service and ignores SIGTERM
    fails exactly those checks, and check exits 1."""
    exe = install(tmp_path / "bin", "nestr-plugin-sloppy", HERE / "sloppy_plugin.py")
    done = nestr("plugin", "check", str(exe), "--json")
    report = json.loads(done.out)
    assert done.code == 1
    failed = sorted(f["name"] for f in report["findings"] if not f["ok"])
    assert failed == ["health", "secret", "shutdown"]


def test_a_command_that_is_no_plugin_fails_the_handshake(nestr: Any) -> None:
    """A program that prints something else is reported at the handshake, with what it said."""
    done = nestr("plugin", "check", "echo", "hello")
    assert done.code == 1
    assert "✗ handshake: plugin echo: bad handshake" in done.out
    assert "'hello'" in done.out


@pytest.mark.usefixtures("marks")
def test_plugin_authors_get_the_driver_from_nestr_testing(tmp_path: Path) -> None:
    """`nestr.testing.check_plugin` returns the same findings as the command, for a test suite."""
    from nestr.testing import check_plugin

    exe = install(tmp_path / "bin", "nestr-plugin-echo", HERE / "echo_plugin.py")
    report = check_plugin([str(exe)], step="echo.say", with_={"text": "hi"}, slow="echo.wait")
    assert report.ok, report.to_dict()
    assert report.start_seconds is not None
