"""`webhooks:` in the config: named endpoints validated with located errors, secrets (one or
several, for rotation) read from the value or a file and never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nestr.config.layers import LayerInputs
from nestr.config.loader import LoadedConfig, load_config
from nestr.errors import ConfigError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24="


def load(tmp_path: Path, text: str, **environ: str) -> LoadedConfig:
    (tmp_path / "nestr.config.yaml").write_text(text, encoding="utf-8")
    inputs = LayerInputs(
        cwd=tmp_path, environ={**os.environ, **environ}, system_dir=tmp_path / "etc"
    )
    return load_config(inputs)


def test_an_endpoint_with_a_secret_file_holding_two_secrets(tmp_path: Path) -> None:
    """secret_file may hold several secrets (one per line), all kept in order; types and
    numbers are read, and unset fields take their defaults."""
    (tmp_path / "hook.secret").write_text(f"{OTHER}\n{SECRET}\n")
    loaded = load(
        tmp_path,
        "webhooks:\n  ci:\n    url: https://ci.example/hook\n    secret_file: hook.secret\n"
        "    types: [nestr.workflow.run.]\n    max_attempts: 3\n",
    )
    (hook,) = loaded.settings.webhooks
    assert (hook.name, hook.url, hook.types, hook.max_attempts) == (
        "ci",
        "https://ci.example/hook",
        ("nestr.workflow.run.",),
        3,
    )
    assert [s.get_secret_value() for s in hook.secret] == [OTHER, SECRET]
    assert (hook.timeout, hook.backoff, hook.backoff_max) == (10.0, 1.0, 600.0)
    assert loaded.values()["webhooks.ci.secret"] == "********"
    assert str(loaded.origins["webhooks.ci.url"]).endswith("nestr.config.yaml:3")


def test_environment_variables_name_an_endpoint_and_its_secrets(tmp_path: Path) -> None:
    """NESTR_WEBHOOKS__<NAME>__<FIELD> sets an endpoint; a secret variable may list two."""
    loaded = load(
        tmp_path,
        "",
        NESTR_WEBHOOKS__OPS__URL="http://127.0.0.1:9/x",
        NESTR_WEBHOOKS__OPS__SECRET=f"{SECRET} {OTHER}",
        NESTR_WEBHOOKS__OPS__TYPES="nestr.sync. nestr.workflow.",
    )
    (hook,) = loaded.settings.webhooks
    assert len(hook.secret) == 2
    assert hook.types == ("nestr.sync.", "nestr.workflow.")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ("    url: ftp://x/\n    secret: S\n", "webhooks.ci.url", "http:// or https://"),
        ("    url: http://x/\n    secret: nope\n", "webhooks.ci.secret[0]", "whsec_"),
        ("    url: http://x/\n", "webhooks.ci.secret", "required"),
        ("    url: http://x/\n    secret: S\n    timeout: 0\n", "webhooks.ci.timeout", "greater"),
        ("    url: http://x/\n    secret: S\n    retries: 3\n", "webhooks.ci.retries", "unknown"),
    ],
)
def test_a_bad_endpoint_is_one_located_error(
    tmp_path: Path, body: str, field: str, message: str
) -> None:
    """Each mistake is reported with the file, line, field and what is wrong."""
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, "webhooks:\n  ci:\n" + body.replace(" S\n", f" {SECRET}\n"))
    text = str(exc.value) + (exc.value.hint or "")
    assert "nestr.config.yaml:" in text
    assert field in text
    assert message in text


def test_a_bad_secret_is_never_quoted(tmp_path: Path) -> None:
    """An invalid secret is named by its key; its value appears in no message or hint."""
    bad = "whsec_not!base64-but-secret"
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, f"webhooks:\n  ci:\n    url: http://x/\n    secret: {bad}\n")
    assert "not!base64" not in str(exc.value) + repr(exc.value) + str(exc.value.hint)


def test_a_name_with_a_dot_is_refused_with_a_hint(tmp_path: Path) -> None:
    """An endpoint named like a host says what a name is."""
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, f"webhooks:\n  ci.example.com:\n    url: http://x/\n    secret: {SECRET}\n")
    assert "webhook's name" in str(exc.value)


def test_config_show_masks_the_secrets(tmp_path: Path, nestr) -> None:  # type: ignore[no-untyped-def]
    """`nestr config show` and its JSON show the secret key masked, never a value."""
    (Path.cwd() / "nestr.config.yaml").write_text(
        f"webhooks:\n  ci:\n    url: http://x/\n    secret: [{SECRET}, {OTHER}]\n"
    )
    for args in (("config", "show"), ("config", "show", "--json")):
        result = nestr(*args)
        assert result.code == 0, result
        assert "webhooks.ci.secret" in result.out
        assert "MfKQ9r8" not in result.out + result.err
        assert "c2Vjb25k" not in result.out + result.err
