"""Small rendering helpers shared by commands: JSON to stdout, tables via rich."""

from __future__ import annotations

import json
from typing import Any

import click


def print_json(data: Any) -> None:
    """Stable, pretty JSON on stdout (keys sorted, UTF-8)."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/json.md).")
