"""Git credentials as settings: the helper's answers, the SSH command, and secrets kept secret."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nestr.config.settings import GitCredential, GitSettings, Secret
from nestr.errors import ConfigError
from nestr.git import credentials
from nestr.git.credential_helper import answer
from nestr.git.runner import git_env, run_git

TOKEN = "ghp_TEST-token-31415926"


@pytest.fixture(autouse=True)
def _no_credentials_after() -> Iterator[None]:
    """Credentials configured by a command stay in the process: drop them after each test."""
    yield
    credentials.configure(GitSettings())


def _entry(**fields: Any) -> GitCredential:
    fields.setdefault("host", "github.com")
    return GitCredential(name="gh", token=Secret(TOKEN), **fields)


def _ask(request: str, argv: list[str], environ: dict[str, str]) -> str:
    return answer(argv, io.StringIO(request), environ)


def test_helper_answers_get_for_its_protocol_and_host_only() -> None:
    """The helper prints the token for protocol=https host=github.com, and nothing otherwise."""
    argv = ["github.com", "https", "x-access-token", "VAR", "get"]
    env = {"VAR": TOKEN}
    ok = _ask("protocol=https\nhost=github.com\npath=o/r.git\n\n", argv, env)
    assert ok == f"username=x-access-token\npassword={TOKEN}\n"
    assert _ask("protocol=https\nhost=GitHub.com\n\n", argv, env) == ok  # host names are caseless
    for request in [
        "protocol=https\nhost=gitlab.com\n\n",
        "protocol=http\nhost=github.com\n\n",
        "protocol=https\nhost=github.com:444\n\n",
        "protocol=https\nhost=github.com.evil.test\n\n",
        "protocol=https\n\n",
    ]:
        assert _ask(request, argv, env) == "", request
    assert _ask("protocol=https\nhost=github.com\n\n", argv, {}) == ""  # no variable: no answer
    for action in ("store", "erase"):
        assert _ask("protocol=https\nhost=github.com\n\n", [*argv[:4], action], env) == ""


def test_the_helper_command_and_git_config_never_hold_the_token() -> None:
    """Only the environment carries the token: config keys, values and argv name its variable."""
    made = credentials.credential_env(GitSettings(credentials=(_entry(),)))
    assert TOKEN not in json.dumps(made.config)
    assert TOKEN not in repr(made)
    (key, reset), (_, helper) = made.config
    assert (key, reset) == ("credential.https://github.com.helper", "")
    argv = shlex.split(helper.removeprefix("!"))
    assert argv[-4:] == ["github.com", "https", "x-access-token", "GIT_NESTR_TOKEN_0"]
    assert dict(made.variables) == {"GIT_NESTR_TOKEN_0": TOKEN}


def test_entries_follow_the_users_own_git_config_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A user's GIT_CONFIG_COUNT set is kept, and nestr's entries are numbered after it."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "http.lowSpeedLimit")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "1")
    credentials.configure(GitSettings(credentials=(_entry(),)))
    env = git_env()
    assert env["GIT_CONFIG_COUNT"] == "3"
    assert env["GIT_CONFIG_KEY_0"] == "http.lowSpeedLimit"
    assert (
        env["GIT_CONFIG_KEY_1"] == env["GIT_CONFIG_KEY_2"] == "credential.https://github.com.helper"
    )
    assert TOKEN not in os.environ.values()  # only git's environment holds it


def test_no_credentials_leave_git_env_as_it_was() -> None:
    """Without credentials nothing is added: no config entries, no token variables."""
    credentials.configure(GitSettings())
    env = git_env()
    assert not any(k.startswith(("GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_", "GIT_NESTR_")) for k in env)
    assert env["GIT_SSH_COMMAND"] == "ssh -o BatchMode=yes"


@pytest.mark.parametrize("name", ["id key", "it's $HOME `x` ; rm -rf", 'dollar$1 "quoted"'])
def test_ssh_command_keeps_the_key_path_one_argument(tmp_path: Path, name: str) -> None:
    """GIT_SSH_COMMAND splits back to ssh -i PATH -o IdentitiesOnly=yes, whatever PATH holds."""
    key = tmp_path / "keys dir" / name
    key.parent.mkdir()
    key.write_text("not a real key\n", encoding="utf-8")
    command = credentials.ssh_command(key)
    assert shlex.split(command) == [
        "ssh", "-o", "BatchMode=yes", "-i", str(key), "-o", "IdentitiesOnly=yes"
    ]  # fmt: skip


def test_git_hands_ssh_the_key_path_as_one_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git runs GIT_SSH_COMMAND through a shell; a stand-in ssh records the argv it really gets."""
    key = tmp_path / "my keys" / "id $USER's key"
    key.parent.mkdir()
    key.write_text("not a real key\n", encoding="utf-8")
    bin_dir, record = tmp_path / "bin", tmp_path / "argv.json"
    bin_dir.mkdir()
    fake = bin_dir / "ssh"
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\nsys.exit(255)\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    credentials.configure(GitSettings(ssh_key_file=key))
    result = asyncio.run(
        run_git(["ls-remote", "ssh://git@example.invalid/o/r.git"], check=False, timeout=30)
    )
    assert result.returncode != 0
    argv = json.loads(record.read_text(encoding="utf-8"))
    assert argv[:6] == ["-o", "BatchMode=yes", "-i", str(key), "-o", "IdentitiesOnly=yes"]
    assert "git@example.invalid" in argv


def test_a_missing_ssh_key_file_exits_2_naming_the_setting(
    nestr: Any, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing NESTR_GIT__SSH_KEY_FILE stops a command: exit 2, naming setting and origin."""
    monkeypatch.setenv("NESTR_GIT__SSH_KEY_FILE", str(cwd / "nope" / "id_ed25519"))
    (cwd / "nestr.yaml").write_text("version: 1\nrepos: []\n", encoding="utf-8")
    result = nestr("assemble", "-m", str(cwd / "nestr.yaml"), "-w", str(cwd / "ws"))
    assert result.code == 2
    assert "env NESTR_GIT__SSH_KEY_FILE: git.ssh_key_file:" in result.err
    assert "does not exist" in result.err
    assert "id_ed25519" in result.err
    assert "hint: set git.ssh_key_file" in result.err


def test_a_relative_ssh_key_file_in_a_config_file_is_relative_to_that_file(
    nestr: Any, cwd: Path
) -> None:
    """`ssh_key_file: keys/id` in nestr.config.yaml names the key beside the file."""
    (cwd / "keys").mkdir()
    (cwd / "keys" / "id").write_text("k\n", encoding="utf-8")
    (cwd / "nestr.config.yaml").write_text("git:\n  ssh_key_file: keys/id\n", encoding="utf-8")
    shown = json.loads(nestr("config", "show", "--json").out)
    assert shown["settings"]["git.ssh_key_file"] == str(cwd / "keys" / "id")


def test_config_show_masks_tokens_and_names_each_field(
    nestr: Any, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each credential shows host, protocol, username and a masked token with their origins."""
    (cwd / "nestr.config.yaml").write_text(
        "git:\n  credentials:\n    gh:\n      host: github.com\n", encoding="utf-8"
    )
    monkeypatch.setenv("NESTR_GIT__CREDENTIALS__GH__TOKEN", TOKEN)
    shown = nestr("config", "show", "--origin")
    assert shown.code == 0, shown
    lines = shown.out.splitlines()
    token_line = next(line for line in lines if "git.credentials.gh.token" in line)
    assert token_line.startswith("env NESTR_GIT__CREDENTIALS__GH__TOKEN ")
    assert token_line.endswith("git.credentials.gh.token = ********")
    assert "git.credentials.gh.username = x-access-token" in shown.out
    assert f"{cwd / 'nestr.config.yaml'}:4" in shown.out
    data = json.loads(nestr("config", "show", "--json").out)["settings"]
    assert data["git.credentials.gh.token"] == "********"
    assert TOKEN not in shown.out + json.dumps(data)


def test_config_without_credentials_shows_an_empty_mapping(nestr: Any) -> None:
    """`git.credentials` is listed, empty, when no credential is configured."""
    data = json.loads(nestr("config", "show", "--json").out)["settings"]
    assert data["git.credentials"] == {}
    assert data["git.ssh_key_file"] is None


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("    gh:\n      host: bad host\n", "git.credentials.gh.host: expected a host name"),
        ("    gh:\n      host: h\n      tokn: x\n", "did you mean 'git.credentials.gh.token'"),
        ("    gh:\n      protocol: ftp\n      host: h\n", "git.credentials.gh.protocol"),
        ("    github.com:\n      host: h\n", "a credential's name is lower-case letters"),
        ("    GH:\n      host: h\n", "'GH' is not a credential name"),
        ("    gh:\n      username: u\n", "git.credentials.gh.host: required but missing"),
    ],
)
def test_bad_credential_entries_exit_2_without_showing_the_token(
    nestr: Any, cwd: Path, entry: str, expected: str
) -> None:
    """Each mistake names file:line and the field; the entry's token is never echoed."""
    (cwd / "nestr.config.yaml").write_text(
        f"git:\n  credentials:\n{entry}      token: '{TOKEN}'\n", encoding="utf-8"
    )
    result = nestr("config", "validate")
    assert result.code == 2
    assert expected in result.err
    assert "nestr.config.yaml:" in result.err
    assert TOKEN not in result.out + result.err


def test_a_token_with_a_newline_is_refused_without_being_shown(nestr: Any, cwd: Path) -> None:
    """A token spanning lines would break git's credential protocol: refused, never echoed."""
    (cwd / "nestr.config.yaml").write_text(
        f'git:\n  credentials:\n    gh:\n      host: h\n      token: "{TOKEN}\\nx"\n',
        encoding="utf-8",
    )
    result = nestr("config", "validate")
    assert result.code == 2
    assert "git.credentials.gh.token: a token is one line" in result.err
    assert TOKEN not in result.err


def test_a_token_in_the_secrets_dir_and_set_flags_make_an_entry(
    nestr: Any, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`git.credentials.ci.token` in NESTR_SECRETS_DIR plus `--set ...host=` form one credential."""
    secrets = cwd / "secrets"
    secrets.mkdir()
    (secrets / "git.credentials.ci.token").write_text(TOKEN + "\n", encoding="utf-8")
    monkeypatch.setenv("NESTR_SECRETS_DIR", str(secrets))
    shown = nestr("--set", "git.credentials.ci.host=git.example.test", "config", "show", "--origin")
    assert shown.code == 0, shown
    token_line = next(line for line in shown.out.splitlines() if ".ci.token" in line)
    assert token_line.startswith(str(secrets / "git.credentials.ci.token"))
    assert token_line.endswith("git.credentials.ci.token = ********")
    assert "flag --set" in shown.out
    assert TOKEN not in shown.out


def test_credentials_are_never_written_to_the_input_cache(
    nestr: Any, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config holding a token is read in full each time; no cache entry is written for it."""
    token_file = cwd / "token"
    token_file.write_text(TOKEN, encoding="utf-8")
    (cwd / "nestr.config.yaml").write_text(
        f"git:\n  credentials:\n    gh:\n      host: h\n      token_file: {token_file}\n",
        encoding="utf-8",
    )
    assert nestr("config", "show").code == 0
    assert nestr("config", "show").code == 0
    inputs = Path(os.environ["XDG_CACHE_HOME"]) / "nestr" / "inputs"
    assert not list(inputs.glob("config-*.json"))
    for path in inputs.rglob("*") if inputs.exists() else []:
        assert TOKEN not in path.read_text(encoding="utf-8")


def test_configure_checks_the_key_file_before_any_git_runs(tmp_path: Path) -> None:
    """configure() refuses a key path that is a directory, and keeps no half-set credentials."""
    credentials.configure(GitSettings(credentials=(_entry(),)))
    with pytest.raises(ConfigError, match=r"git\.ssh_key_file: .* is not a file"):
        credentials.configure(GitSettings(ssh_key_file=tmp_path))
    assert "GIT_NESTR_TOKEN_0" in git_env()  # the previous configuration is still in force
