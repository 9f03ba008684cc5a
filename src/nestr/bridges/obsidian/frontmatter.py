"""YAML front matter of a Markdown note: split it off, merge nestr's keys into it.

A note starts with ``---``, YAML, ``---``. nestr owns only the keys it writes; a key a person
added (``tags``, ``aliases``) stays, in its place. Front matter that does not parse as a
mapping is the person's to fix and is left exactly as it is. Rewriting nestr's keys re-dumps the
YAML (a comment in it is then lost); front matter whose nestr keys already hold their values is
not touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

_FENCE = "---"


def split(text: str) -> tuple[str | None, str]:
    """``(front matter YAML or None, the rest)`` of ``text``."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != _FENCE:
        return None, text
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip() == _FENCE:
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    return None, text  # an opening fence never closed: not front matter


def merged(current: str | None, ours: Mapping[str, Any]) -> str:
    """The front matter block (fences included) with ``ours`` set over ``current``'s keys.

    ``current`` is kept byte for byte (comments, quoting, order) when it already holds ``ours``
    or does not parse as a mapping; only a change of one of nestr's keys rewrites it.
    """
    kept = None if current is None else f"{_FENCE}\n{current}{_FENCE}\n"
    try:
        data = {} if current is None else yaml.safe_load(current)
    except yaml.YAMLError:
        return str(kept)
    data = {} if data is None else data
    if not isinstance(data, dict):
        return str(kept)
    if kept is not None and all(k in data and data[k] == v for k, v in ours.items()):
        return kept
    data.update(ours)
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return f"{_FENCE}\n{body}{_FENCE}\n"
