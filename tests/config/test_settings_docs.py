"""docs/configuration.md's table of settings and the boundary model say the same."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from nestr.config import model, settings

from .test_settings import model_leaves

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
# | `key` | type | default | meaning |
ROW = re.compile(r"^\| `([^`]+)` \| [^|]+ \| ([^|]+) \|", re.MULTILINE)
CREDENTIAL_ROW = re.compile(r"git\.credentials\.<name>\.(\w+)")
WEBHOOK_ROW = re.compile(r"webhooks\.<name>\.(\w+)")
PLUGIN_ROW = re.compile(r"plugins\.<name>\.(\w+)")


def documented() -> dict[str, str]:
    """Key → default cell of each row of the settings table."""
    table = DOCS.read_text(encoding="utf-8").split("## Settings", 1)[1].split("\n## ", 1)[0]
    return {key: default.strip() for key, default in ROW.findall(table)}


def shown(value: Any) -> str:
    """A default as the table writes it: `true`, `600`, `0.5`, `auto`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_every_setting_has_a_row_and_every_row_a_setting() -> None:
    """The table documents exactly the keys the model validates (the fields of a named
    credential, webhook or plugin as `git.credentials.<name>.<field>`, `webhooks.<name>.<field>`,
    `plugins.<name>.<field>`)."""
    rows = set(documented())
    fields = {m.group(1) for key in rows if (m := CREDENTIAL_ROW.fullmatch(key))}
    assert fields == set(settings.CREDENTIAL_FIELDS)
    hooks = {m.group(1) for key in rows if (m := WEBHOOK_ROW.fullmatch(key))}
    assert hooks == set(settings.WEBHOOK_FIELDS)
    plugins = {m.group(1) for key in rows if (m := PLUGIN_ROW.fullmatch(key))}
    assert plugins == set(settings.PLUGIN_FIELDS)
    named = (CREDENTIAL_ROW, WEBHOOK_ROW, PLUGIN_ROW)
    plain = {key for key in rows if not any(row.fullmatch(key) for row in named)}
    named_keys = {settings.CREDENTIALS_KEY, settings.WEBHOOKS_KEY, settings.PLUGINS_KEY}
    assert plain == settings.LEAF_KEYS - named_keys


def test_a_default_written_as_one_value_is_the_models() -> None:
    """Where the table gives a default as a single value (`5`, `true`, `auto`), it is the
    model's."""
    leaves = model_leaves(model.Settings)
    single = {
        key: cell[1:-1] for key, cell in documented().items() if re.fullmatch(r"`[^`]+`", cell)
    }
    assert "server.stream.queue" in single
    for key, cell in single.items():
        if key in leaves:
            written = cell.replace(",", "")
            if re.fullmatch(r"\d+[smhdw]", written):  # a duration: the model holds seconds
                written = shown(float(model._duration(written)))
            assert written == shown(leaves[key].get_default()), key
