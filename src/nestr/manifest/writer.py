"""Writing translated manifests: stable YAML text, and files replaced atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nestr.atomicfile import write_atomic
from nestr.errors import UsageError


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key (as west and vcstool files are written)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump_yaml(data: Any, *, header: str | None = None) -> str:
    """``data`` as YAML in its own key order, with an optional ``# header`` comment."""
    text = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    return text


def write_text_atomic(path: Path, text: str, *, force: bool = False) -> None:
    """Write ``text`` to ``path`` via a temp file and rename; refuse to replace unless ``force``."""
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="pass --force to overwrite it")
    write_atomic(path, text.encode("utf-8"))
