"""`nestr config show|validate` as users script them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SECRET = "tok-9f8e7d6c"


def test_show_origin_names_every_layer(nestr, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--origin prints file:line, env var, flag and default origins side by side."""
    (cwd / "nestr.config.yaml").write_text("jobs: 3\n")
    monkeypatch.setenv("NESTR_LOG__FORMAT", "json")
    result = nestr("--set", "git.timeout=9", "config", "show", "--origin")
    assert result.code == 0
    lines = result.out.splitlines()
    assert any(
        line.startswith(f"{cwd / 'nestr.config.yaml'}:1") and "jobs = 3" in line for line in lines
    )
    assert any(
        line.startswith("env NESTR_LOG__FORMAT") and "log.format = json" in line for line in lines
    )
    assert any(line.startswith("flag --set") and "git.timeout = 9.0" in line for line in lines)
    assert any(
        line.startswith("default") and "temporal.namespace = default" in line for line in lines
    )


def test_show_json_shape(nestr) -> None:
    """--json has settings, origins and files, keyed by dotted setting names."""
    data = json.loads(nestr("config", "show", "--json").out)
    assert set(data) == {"settings", "origins", "files"}
    assert data["settings"]["log.level"] == "info"
    assert data["origins"]["log.level"] == "default"
    assert data["settings"]["server.token"] is None


def test_bad_set_value_exits_2_naming_set_and_choices(nestr) -> None:
    """`--set log.level=verbose` exits 2 naming --set and the allowed values."""
    result = nestr("--set", "log.level=verbose", "config", "show")
    assert result.code == 2
    assert "--set" in result.err
    assert "debug, info, warning, error or critical" in result.err
    assert result.out == ""


def test_mistyped_env_var_exits_2_with_suggestion(nestr, monkeypatch: pytest.MonkeyPatch) -> None:
    """NESTR_LOG__LEVL exits 2 and suggests NESTR_LOG__LEVEL."""
    monkeypatch.setenv("NESTR_LOG__LEVL", "debug")
    result = nestr("config", "show")
    assert result.code == 2
    assert "NESTR_LOG__LEVEL" in result.err


def test_wrong_type_in_file_exits_2_with_position(nestr, cwd: Path) -> None:
    """A wrong type in nestr.config.yaml names file:line:col."""
    (cwd / "nestr.config.yaml").write_text("git:\n  timeout: soon\n")
    result = nestr("config", "validate")
    assert result.code == 2
    assert "nestr.config.yaml:2:12: git.timeout" in result.err
    assert "Traceback" not in result.err


def test_validate_ok(nestr, cwd: Path) -> None:
    """validate reports the files it read."""
    (cwd / "nestr.config.yaml").write_text("jobs: 3\n")
    result = nestr("config", "validate")
    assert result.code == 0
    assert "nestr.config.yaml" in result.out
    assert json.loads(nestr("config", "validate", "--json").out)["valid"] is True


def test_secret_never_printed(nestr, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token from env, file or flag never shows in show, --json, --origin or debug logs."""
    (cwd / "token").write_text(SECRET)
    monkeypatch.setenv("NESTR_SERVER__TOKEN_FILE", str(cwd / "token"))
    for args in (("config", "show"), ("config", "show", "--origin"), ("config", "show", "--json")):
        result = nestr("--debug", *args)
        assert result.code == 0
        assert SECRET not in result.out + result.err
        assert "********" in result.out
    result = nestr("--set", f"server.token={SECRET}", "--set", "jobs=0", "config", "show")
    assert result.code == 2
    assert SECRET not in result.out + result.err


def test_log_level_flag_has_its_own_origin(nestr) -> None:
    """--log-level overrides log.level and is shown as a flag origin."""
    data = json.loads(nestr("--log-level", "error", "config", "show", "--json").out)
    assert data["settings"]["log.level"] == "error"
    assert data["origins"]["log.level"] == "flag --log-level"
