"""`server.stream.*`: the event stream's limits, validated where they are set."""

from __future__ import annotations

from pathlib import Path

import pytest

from nestr.config.settings import StreamSettings
from nestr.errors import ConfigError

from .test_layers import load, write

YAML = "server:\n  stream:\n    {key}: {value}\n"


def test_limits_load_from_a_file_and_default_otherwise(tmp_path: Path) -> None:
    """Values in a file are taken as given; keys left out keep their defaults."""
    project, other = tmp_path / "project", tmp_path / "other"
    write(project / "nestr.config.yaml", "server:\n  stream:\n    heartbeat: 0.5\n    queue: 20\n")
    other.mkdir()
    stream = load(tmp_path, cwd=project, environ={}).settings.server.stream
    assert stream == StreamSettings(heartbeat=0.5, queue=20, batch=500)
    assert load(tmp_path, cwd=other, environ={}).settings.server.stream == StreamSettings()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("heartbeat", "0", "greater than or equal to 0.1"),
        ("heartbeat", ".inf", "finite number"),
        ("heartbeat", "7200", "less than or equal to 3600"),
        ("queue", "0", "greater than or equal to 1"),
        ("queue", "many", "integer"),
        ("batch", "10001", "less than or equal to 10000"),
    ],
)
def test_a_bad_limit_names_file_line_and_field(
    tmp_path: Path, key: str, value: str, expected: str
) -> None:
    """An out-of-range or mistyped limit is one error at the value's file:line:col, naming
    the field and what it must be (exit 2)."""
    write(tmp_path / "nestr.config.yaml", YAML.format(key=key, value=value))
    with pytest.raises(ConfigError) as info:
        load(tmp_path, environ={})
    where = f"{tmp_path / 'nestr.config.yaml'}:3:{len(key) + 7}: server.stream.{key}: "
    assert info.value.message.startswith(where)
    assert expected in info.value.message
    assert info.value.exit_code == 2


def test_a_bad_limit_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    """NESTR_SERVER__STREAM__BATCH=0 is refused naming the variable and the field."""
    with pytest.raises(ConfigError) as info:
        load(tmp_path, environ={"NESTR_SERVER__STREAM__BATCH": "0"})
    assert "NESTR_SERVER__STREAM__BATCH" in info.value.message
    assert "server.stream.batch" in info.value.message
