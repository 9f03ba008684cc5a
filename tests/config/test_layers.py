"""Layered configuration: order, origins, errors located at their source, secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nestr.config.layers import LayerInputs
from nestr.config.loader import LoadedConfig, load_config
from nestr.errors import ConfigError


def load(tmp_path: Path, **kwargs: object) -> LoadedConfig:
    inputs = LayerInputs(
        cwd=kwargs.pop("cwd", tmp_path),  # type: ignore[arg-type]
        environ=kwargs.pop("environ", dict(os.environ)),  # type: ignore[arg-type]
        system_dir=tmp_path / "etc",
        **kwargs,  # type: ignore[arg-type]
    )
    return load_config(inputs)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_apply_without_any_file(tmp_path: Path) -> None:
    """With no file, env var or flag every value is the built-in default and says so."""
    loaded = load(tmp_path)
    assert loaded.settings.jobs == 8
    assert loaded.settings.log.level == "info"
    assert all(str(o) == "default" for o in loaded.origins.values())
    assert loaded.files == ()


def test_each_layer_overrides_the_one_before(tmp_path: Path) -> None:
    """system < user < project < --config < env overlay < NESTR_* < --set, each with its origin."""
    write(tmp_path / "etc" / "config.yaml", "jobs: 2\nlog:\n  level: error\ngit:\n  timeout: 5\n")
    xdg = tmp_path / "xdg"
    write(xdg / "nestr" / "config.yaml", "jobs: 3\nlog:\n  level: warning\n")
    project = tmp_path / "proj"
    write(project / "nestr.config.yaml", "jobs: 4\ntemporal:\n  namespace: proj\n")
    extra = write(tmp_path / "extra.yaml", "jobs: 5\n")
    write(tmp_path / "nestr.ci.yaml", "jobs: 6\n")
    sub = project / "a" / "b"
    sub.mkdir(parents=True)
    environ = {"XDG_CONFIG_HOME": str(xdg), "HOME": str(tmp_path), "NESTR_TEMPORAL__ADDRESS": "t:1"}
    loaded = load(
        tmp_path,
        cwd=sub,
        environ=environ,
        config_files=[extra],
        env_name="ci",
        sets=["temporal.task_queue=q"],
    )
    s = loaded.settings
    assert (s.jobs, s.log.level, s.git.timeout) == (6, "warning", 5.0)
    assert (s.temporal.namespace, s.temporal.address, s.temporal.task_queue) == ("proj", "t:1", "q")
    origins = {k: str(v) for k, v in loaded.origins.items()}
    assert origins["jobs"] == f"{tmp_path / 'nestr.ci.yaml'}:1"
    assert origins["log.level"] == f"{xdg / 'nestr' / 'config.yaml'}:3"
    assert origins["git.timeout"] == f"{tmp_path / 'etc' / 'config.yaml'}:5"
    assert origins["temporal.namespace"] == f"{project / 'nestr.config.yaml'}:3"
    assert origins["temporal.address"] == "env NESTR_TEMPORAL__ADDRESS"
    assert origins["temporal.task_queue"] == "flag --set"
    assert origins["server.listen"] == "default"


def test_env_name_from_environment_loads_overlay(tmp_path: Path) -> None:
    """NESTR_ENV selects the nestr.<env>.yaml overlay like --env does."""
    write(tmp_path / "nestr.config.yaml", "jobs: 4\n")
    write(tmp_path / "nestr.prod.yaml", "jobs: 9\n")
    loaded = load(tmp_path, environ={"NESTR_ENV": "prod", "HOME": str(tmp_path)})
    assert loaded.settings.jobs == 9


def test_mappings_merge_deeply(tmp_path: Path) -> None:
    """A later file setting log.format keeps an earlier file's log.level."""
    write(tmp_path / "nestr.config.yaml", "log:\n  level: debug\n")
    extra = write(tmp_path / "more.yaml", "log:\n  format: json\n")
    loaded = load(tmp_path, config_files=[extra])
    assert (loaded.settings.log.level, loaded.settings.log.format) == ("debug", "json")


def test_wrong_value_in_file_names_file_line_column(tmp_path: Path) -> None:
    """A bad value in a file is reported at its file:line:col with the allowed values."""
    write(tmp_path / "nestr.config.yaml", "jobs: 2\nlog:\n  level:    verbose\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    message = info.value.message
    assert message.startswith(f"{tmp_path / 'nestr.config.yaml'}:3:13: log.level: expected one of")
    assert "debug" in message
    assert 'got "verbose"' in message
    assert info.value.exit_code == 2


def test_wrong_type_in_file_names_position(tmp_path: Path) -> None:
    """A string where a number belongs names the position and what was found."""
    write(tmp_path / "nestr.config.yaml", "jobs: many\n")
    with pytest.raises(ConfigError, match=r"nestr.config.yaml:1:7: jobs: .*integer.*got \"many\""):
        load(tmp_path)


def test_unknown_key_in_file_suggests_the_right_one(tmp_path: Path) -> None:
    """A mistyped key is an error at the key's position with a did-you-mean."""
    write(tmp_path / "nestr.config.yaml", "log:\n  levle: debug\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert "nestr.config.yaml:2:3: log.levle: unknown key" in info.value.message
    assert info.value.hint == "did you mean 'log.level'?"


def test_unknown_env_var_is_an_error_with_suggestion(tmp_path: Path) -> None:
    """NESTR_LOG__LEVL is refused and NESTR_LOG__LEVEL suggested (not silently ignored)."""
    with pytest.raises(ConfigError) as info:
        load(tmp_path, environ={"NESTR_LOG__LEVL": "debug"})
    assert "NESTR_LOG__LEVL" in info.value.message
    assert info.value.hint == "did you mean 'NESTR_LOG__LEVEL'?"


def test_runtime_variables_nestr_sets_are_not_settings(tmp_path: Path) -> None:
    """Variables nestr sets for child processes (NESTR_REPO_NAME, NESTR_OUTPUT…) are ignored."""
    environ = {"NESTR_REPO_NAME": "api", "NESTR_OUTPUT": "/tmp/x", "NESTR_WORKSPACE": "/w"}
    assert load(tmp_path, environ=environ).settings.jobs == 8


def test_a_plugins_start_variables_are_not_settings(tmp_path: Path) -> None:
    """`nestr` run inside a plugin process (its steps may call it) ignores the variables the
    plugin was started with (NESTR_PLUGIN_SECRET, NESTR_PLUGIN_SETTINGS…) instead of refusing
    them as unknown settings."""
    environ = {
        "NESTR_PLUGIN_SECRET": "abc",
        "NESTR_PLUGIN_SETTINGS": '{"vault": "/v"}',
        "NESTR_PLUGIN_PROTOCOL_VERSIONS": "1",
    }
    assert load(tmp_path, environ=environ).settings.plugins == ()


def test_bad_set_flag_names_the_flag(tmp_path: Path) -> None:
    """--set with a bad value names --set and the allowed values."""
    with pytest.raises(ConfigError) as info:
        load(tmp_path, sets=["log.level=verbose"])
    assert info.value.message.startswith("flag --set: log.level: expected one of debug, info")


@pytest.mark.parametrize(
    ("item", "needle"),
    [("nonsense", "expects KEY=VALUE"), ("log.levl=1", "unknown setting 'log.levl'")],
)
def test_malformed_set_flags_are_refused(tmp_path: Path, item: str, needle: str) -> None:
    """--set without '=' or with an unknown key is a usage error."""
    with pytest.raises(ConfigError, match=needle):
        load(tmp_path, sets=[item])


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    """Broken YAML is reported with its line and column, not a parser traceback."""
    write(tmp_path / "nestr.config.yaml", "jobs: 1\nlog: [\n")
    with pytest.raises(ConfigError, match=r"nestr.config.yaml:3:1: YAML syntax error"):
        load(tmp_path)


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    """YAML would keep the last of two equal keys silently; nestr refuses."""
    write(tmp_path / "nestr.config.yaml", "jobs: 1\njobs: 2\n")
    with pytest.raises(ConfigError, match=r":2:1: duplicate key 'jobs'"):
        load(tmp_path)


def test_missing_config_file_flag_is_an_error(tmp_path: Path) -> None:
    """--config naming a missing file is an error, not silently skipped."""
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path, config_files=[tmp_path / "missing.yaml"])


def test_non_mapping_file_is_refused(tmp_path: Path) -> None:
    """A file that is a list, not a mapping, gets a clear message."""
    write(tmp_path / "nestr.config.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load(tmp_path)


def test_relative_paths_in_files_are_relative_to_the_file(tmp_path: Path) -> None:
    """cache_dir: cache in /proj/nestr.config.yaml means /proj/cache wherever nestr runs."""
    write(tmp_path / "proj" / "nestr.config.yaml", "cache_dir: cache\n")
    sub = tmp_path / "proj" / "deep"
    sub.mkdir()
    loaded = load(tmp_path, cwd=sub)
    assert loaded.settings.cache_dir == tmp_path / "proj" / "cache"


def test_tls_paths_are_relative_to_their_file_or_the_working_directory(tmp_path: Path) -> None:
    """server.tls.cert/client_ca in a file are relative to it; server.tls.key from the
    environment is relative to the working directory; values() masks the key's path."""
    write(tmp_path / "proj" / "nestr.config.yaml", "server:\n  tls: {cert: c.pem, client_ca: ca}\n")
    sub = tmp_path / "proj" / "deep"
    sub.mkdir()
    loaded = load(tmp_path, cwd=sub, environ={"NESTR_SERVER__TLS__KEY": "k.pem"})
    tls = loaded.settings.server.tls
    assert (tls.cert, tls.client_ca) == (tmp_path / "proj" / "c.pem", tmp_path / "proj" / "ca")
    assert tls.key == sub / "k.pem"
    assert loaded.values()["server.tls.key"] == "********"
    assert loaded.values()["server.tls.cert"] == str(tmp_path / "proj" / "c.pem")


def test_a_bad_tls_key_value_is_located_but_not_echoed(tmp_path: Path) -> None:
    """A server.tls.key that is no path is an error at its file:line that does not repeat the
    value (the key's path is kept out of messages like a secret)."""
    write(tmp_path / "nestr.config.yaml", "server:\n  tls:\n    key: 4242424242\n")
    with pytest.raises(ConfigError, match=r"nestr.config.yaml:3:\d+: server.tls.key") as bad:
        load(tmp_path)
    assert "4242424242" not in str(bad.value)


SECRET = "s3cr3t-Value-42"


def test_secret_from_file_key_is_loaded_and_masked(tmp_path: Path) -> None:
    """server.token_file reads the secret; values() masks it; the origin is the secret file."""
    write(tmp_path / "token.txt", SECRET + "\n")
    write(tmp_path / "nestr.config.yaml", "server:\n  token_file: token.txt\n")
    loaded = load(tmp_path)
    assert loaded.settings.server.token is not None
    assert loaded.settings.server.token.get_secret_value() == SECRET
    assert loaded.values()["server.token"] == "********"
    assert str(loaded.origins["server.token"]) == str(tmp_path / "token.txt")
    assert SECRET not in repr(loaded)


def test_secret_from_secrets_dir(tmp_path: Path) -> None:
    """NESTR_SECRETS_DIR/server.token provides the token."""
    write(tmp_path / "secrets" / "server.token", SECRET)
    loaded = load(tmp_path, environ={"NESTR_SECRETS_DIR": str(tmp_path / "secrets")})
    assert loaded.settings.server.token is not None
    assert loaded.settings.server.token.get_secret_value() == SECRET


def test_secret_env_file_variable(tmp_path: Path) -> None:
    """NESTR_SERVER__TOKEN_FILE points at the secret file."""
    path = write(tmp_path / "tok", SECRET)
    loaded = load(tmp_path, environ={"NESTR_SERVER__TOKEN_FILE": str(path)})
    assert loaded.settings.server.token is not None
    assert loaded.settings.server.token.get_secret_value() == SECRET


def test_secret_never_echoed_in_validation_errors(tmp_path: Path) -> None:
    """A secret of the wrong type is reported without its value (pydantic would echo it)."""
    write(tmp_path / "nestr.config.yaml", f"server:\n  token: [{SECRET}]\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert "server.token" in info.value.message
    assert SECRET not in info.value.message
    assert SECRET not in str(info.value.hint)


def test_missing_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    """A token_file that does not exist names the file and the line that names it."""
    write(tmp_path / "nestr.config.yaml", "server:\n  token_file: nope.txt\n")
    with pytest.raises(ConfigError, match="cannot read the secret file") as info:
        load(tmp_path)
    assert str(info.value.location) == f"{tmp_path / 'nestr.config.yaml'}:2:15"
    assert info.value.field == "server.token_file"


def test_missing_secret_file_from_env_names_the_variable(tmp_path: Path) -> None:
    """NESTR_SERVER__TOKEN_FILE naming a missing file is located at that variable."""
    environ = {"NESTR_SERVER__TOKEN_FILE": str(tmp_path / "a b c")}
    with pytest.raises(ConfigError, match=r"^env NESTR_SERVER__TOKEN_FILE: server.token_file: "):
        load(tmp_path, environ=environ)


def test_secret_file_that_is_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    """A secret file holding bytes that are not UTF-8 is refused, not a crash."""
    (tmp_path / "tok").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load(tmp_path, environ={"NESTR_SERVER__TOKEN_FILE": str(tmp_path / "tok")})


@pytest.mark.parametrize(
    "value", ["inf", "1e400", "nan", "31536001", "9" * 400], ids=lambda v: v[:12]
)
def test_git_timeouts_must_be_finite_and_at_most_a_year(tmp_path: Path, value: str) -> None:
    """git.timeout=inf (or 1e400, or a year and a second) is refused, naming the --set flag."""
    with pytest.raises(ConfigError, match=r"^flag --set: git.timeout: input should be"):
        load(tmp_path, sets=[f"git.timeout={value}"])


@pytest.mark.parametrize("value", [".inf", "1e400", "1" + "0" * 400], ids=lambda v: v[:12])
def test_infinite_fetch_freshness_in_a_file_is_located(tmp_path: Path, value: str) -> None:
    """`fetch_freshness: .inf` in a file is refused at its file:line:col."""
    write(tmp_path / "nestr.config.yaml", f"git:\n  fetch_freshness: {value}\n")
    with pytest.raises(ConfigError, match=r"nestr.config.yaml:2:20: git.fetch_freshness: "):
        load(tmp_path)


def test_secrets_dir_must_exist(tmp_path: Path) -> None:
    """NESTR_SECRETS_DIR pointing nowhere is refused."""
    with pytest.raises(ConfigError, match="not a directory"):
        load(tmp_path, environ={"NESTR_SECRETS_DIR": str(tmp_path / "none")})


def test_unknown_variable_with_control_characters_is_shown_escaped(tmp_path: Path) -> None:
    """A NESTR_ variable whose name holds an ESC is named with the ESC written out."""
    with pytest.raises(ConfigError) as info:
        load(tmp_path, environ={"NESTR_\x1b]0;T\x07": "1"})
    assert "\x1b" not in info.value.message
    assert info.value.message.startswith("env 'NESTR_\\x1b]0;T\\x07': unknown setting variable")
