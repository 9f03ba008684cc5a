"""Crash logs are meant to be attached to bug reports: they hold no secret."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import pytest

from nestr.cli.context import app
from nestr.cli.main import cli
from nestr.redaction import redact_argv, scrub, secret_values

TOKEN = "TOPSECRET-9f8e7d"
ENV_TOKEN = "ENVSECRET-1a2b3c"
URL_PASSWORD = "URLTOKEN-5566"


@click.command("explode")
@click.argument("words", nargs=-1)
@click.pass_context
def _explode(ctx: click.Context, words: tuple[str, ...]) -> None:
    """A command with a bug: its exception message quotes the secret it was handed."""
    token = app(ctx).config().settings.server.token
    assert token is not None
    secret = {"token": token.get_secret_value(), "words": words}
    raise RuntimeError(f"unexpected state {secret}")


@pytest.fixture
def exploding_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.commands, "explode", _explode)


def _crash_log(err: str) -> str:
    path = Path(err.split("crash log with the details is at ")[1].split(";", maxsplit=1)[0])
    return path.read_text(encoding="utf-8")


def test_crash_log_and_apology_hold_no_secret_from_flags_env_or_urls(
    exploding_cli: None, nestr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--set server.token, a secret env variable and a URL password are hidden in the crash
    log (args and traceback) and in the apology, while the rest of the command line stays."""
    monkeypatch.setenv("CI_DEPLOY_PASSWORD", ENV_TOKEN)
    url = f"https://ci-bot:{URL_PASSWORD}@example.invalid/acme/a.git"
    result = nestr("--set", f"server.token={TOKEN}", "explode", url, ENV_TOKEN)
    assert result.code == 1
    log = _crash_log(result.err)
    assert "RuntimeError: unexpected state" in log
    assert "args ['--set', 'server.token=***', 'explode'," in log
    assert "https://ci-bot:***@example.invalid/acme/a.git" in log
    for text in (log, result.err, result.out):
        assert TOKEN not in text
        assert ENV_TOKEN not in text
        assert URL_PASSWORD not in text


def test_crash_log_hides_the_token_set_in_the_environment(
    exploding_cli: None, nestr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """server.token from NESTR_SERVER__TOKEN never reaches the crash log either."""
    monkeypatch.setenv("NESTR_SERVER__TOKEN", TOKEN)
    result = nestr("explode")
    assert result.code == 1
    log = _crash_log(result.err)
    assert "RuntimeError" in log
    assert TOKEN not in log + result.err


def test_crash_log_hides_a_token_read_from_a_file(
    exploding_cli: None, nestr: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """server.token read from server.token_file (no flag or variable holds it) is hidden in the
    crash log and the apology too."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    monkeypatch.setenv("NESTR_SERVER__TOKEN_FILE", str(token_file))
    result = nestr("explode")
    assert result.code == 1
    log = _crash_log(result.err)
    assert "RuntimeError: unexpected state {'token': '***'" in log
    assert TOKEN not in log + result.err


def test_redact_argv_hides_secret_settings_assignments_and_option_values() -> None:
    """Each secret-bearing shape of a command line is hidden; ordinary words stay."""
    args = [
        "--set", "server.token=a1", "--set=x.api_key=b2", "--set", "log.level=debug",
        "foreach", "--", "env", "GITHUB_TOKEN=c3", "deploy", "--password", "d4", "-m",
        "ssh://u:e5@host/x.git",
    ]  # fmt: skip
    assert redact_argv(args, {"server.token"}) == [
        "--set", "server.token=***", "--set=x.api_key=***", "--set", "log.level=debug",
        "foreach", "--", "env", "GITHUB_TOKEN=***", "deploy", "--password", "***", "-m",
        "ssh://u:***@host/x.git",
    ]  # fmt: skip


def test_scrub_hides_secret_values_found_in_args_and_environment() -> None:
    """Values of secret settings and secret-named variables are removed from free text."""
    secrets = secret_values(
        ["--set", "server.token=abcdef123", "--token", "zyxwvu987"],
        {"MY_SECRET": "s3cr3t-value", "HOME": os.environ["HOME"]},
        {"server.token"},
    )
    assert secrets == {"abcdef123", "zyxwvu987", "s3cr3t-value"}
    text = scrub("a abcdef123 b zyxwvu987 c s3cr3t-value home", secrets)
    assert text == "a *** b *** c *** home"
