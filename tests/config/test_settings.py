"""The frozen settings values and the pydantic boundary model that validates into them."""

from __future__ import annotations

import copy
import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from nestr.config import model, settings
from nestr.config.settings import Secret, Settings

SECRET = "s3cr3t-Value-42"


def model_leaves(cls: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    """Dotted leaf key → pydantic field info of the boundary model."""
    leaves: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            leaves.update(model_leaves(annotation, f"{prefix}{name}."))
        else:
            leaves[prefix + name] = info
    return leaves


def value_leaves(cls: type[Any], prefix: str = "") -> dict[str, Any]:
    """Dotted leaf key → type annotation of the frozen dataclasses."""
    hints = typing.get_type_hints(cls)
    leaves: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            leaves.update(value_leaves(hint, f"{prefix}{f.name}."))  # type: ignore[arg-type]
        else:
            leaves[prefix + f.name] = hint
    return leaves


def test_model_and_values_have_the_same_keys() -> None:
    """Every key the boundary model validates exists in the domain value, and no other."""
    assert set(model_leaves(model.Settings)) == set(value_leaves(Settings)) == settings.LEAF_KEYS


def test_model_and_values_have_the_same_types() -> None:
    """Each key has the same type on both sides (a pydantic SecretStr is a Secret)."""
    values = value_leaves(Settings)
    for key, info in model_leaves(model.Settings).items():
        expected = info.annotation
        if key in settings.SECRET_KEYS:
            assert expected == SecretStr | None
            expected = Secret | None
        if key == settings.CREDENTIALS_KEY:  # a mapping by name ↔ a tuple of named entries
            assert values[key] == tuple[settings.GitCredential, ...]
            continue
        if key == settings.WEBHOOKS_KEY:  # likewise
            assert values[key] == tuple[settings.WebhookEndpoint, ...]
            continue
        if key == settings.PLUGINS_KEY:  # likewise
            assert values[key] == tuple[settings.PluginCommand, ...]
            continue
        assert values[key] == expected, key


def test_a_credential_entry_has_the_same_fields_on_both_sides() -> None:
    """git.credentials entries: same fields and types (the name is the key on the model side)."""
    fields = model.GitCredentialSettings.model_fields
    hints = typing.get_type_hints(settings.GitCredential)
    assert set(fields) == set(settings.CREDENTIAL_FIELDS) == set(hints) - {"name"}
    for name, info in fields.items():
        expected = Secret if info.annotation is SecretStr else info.annotation
        assert hints[name] == expected, name
        default = info.get_default() if not info.is_required() else dataclasses.MISSING
        assert settings.GitCredential.__dataclass_fields__[name].default == default, name


def test_a_webhook_entry_has_the_same_fields_and_defaults_on_both_sides() -> None:
    """webhooks entries: the same fields and defaults (the name is the key on the model side)."""
    fields = model.WebhookSettings.model_fields
    hints = typing.get_type_hints(settings.WebhookEndpoint)
    assert set(fields) == set(settings.WEBHOOK_FIELDS) == set(hints) - {"name"}
    for name, info in fields.items():
        default = info.get_default(call_default_factory=True) if not info.is_required() else None
        expected = settings.WebhookEndpoint.__dataclass_fields__[name].default
        if default is not None:
            assert expected == (tuple(default) if isinstance(default, list) else default), name


def test_model_and_values_have_the_same_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model validated from nothing converts to exactly the dataclass defaults."""
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    default = model.to_settings(model.Settings())
    assert default == Settings()
    assert default.cache_dir == Path("/somewhere/cache/nestr")


def test_every_key_is_described() -> None:
    """Each boundary field keeps a description for `config` docs and schemas."""
    leaves = model_leaves(model.Settings)
    assert all(info.description for info in leaves.values()), leaves


def test_conversion_keeps_every_validated_value() -> None:
    """Non-default values, paths and the secret survive the model → dataclass conversion."""
    data = {
        "cache_dir": "/c",
        "jobs": 3,
        "log": {"level": "debug"},
        "server": {"token": SECRET},
        "temporal": {"task_queue": "q"},
    }
    values = model.to_settings(model.Settings.model_validate(data))
    assert (values.cache_dir, values.jobs, values.log.level) == (Path("/c"), 3, "debug")
    assert values.temporal.task_queue == "q"
    assert values.server.token == Secret(SECRET)


def test_secret_never_shows_its_value() -> None:
    """repr and str hide the secret; copies keep it; only the getter shows it."""
    token = Secret(SECRET)
    held = dataclasses.replace(Settings(), server=settings.ServerSettings(token=token))
    assert SECRET not in repr(token) + str(token) + repr(held) + str(held)
    assert token.get_secret_value() == SECRET
    assert copy.deepcopy(token) == token
    with pytest.raises(AttributeError):
        token._value = "other"  # type: ignore[misc]


def test_values_round_trip_through_plain_data() -> None:
    """settings_to_dict → settings_from_dict gives back equal settings."""
    values = dataclasses.replace(Settings(), jobs=5, cache_dir=Path("/x"))
    assert settings.settings_from_dict(settings.settings_to_dict(values)) == values


def test_plain_data_refuses_a_secret() -> None:
    """A secret is never turned into plain data (so it cannot reach a cache file)."""
    held = dataclasses.replace(Settings(), server=settings.ServerSettings(token=Secret(SECRET)))
    with pytest.raises(ValueError, match=r"server\.token"):
        settings.settings_to_dict(held)


def test_partial_plain_data_is_refused() -> None:
    """A mapping missing a key is damaged input, not a request for defaults."""
    data = settings.settings_to_dict(Settings())
    del data["log"]["level"]
    with pytest.raises(KeyError):
        settings.settings_from_dict(data)
