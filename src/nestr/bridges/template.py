"""Bridge templates: ``{{ name }}`` placeholders filled from plain values, nothing evaluated.

The engine has already rendered ``${{ … }}`` in a step's ``with:``; a bridge's own template
(an Ollama prompt, an Obsidian note template) names values the engine's scope lacks, such as the
log tail of a failed step. Obsidian's core templates use the same ``{{title}}``/``{{date}}``
syntax. A placeholder is a dotted path (``steps.test.log``, ``title``): each dot descends
into a mapping, and an instance key such as ``test[api]`` is one part. An unknown name
is an error, never an empty string (a typo must not send an empty prompt).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nestr.bridges.context import StepFailed

PLACEHOLDER = re.compile(
    r"\{\{\s*([A-Za-z_][\w\-]*(?:\[[^\]\s]*\])?(?:\.[\w\-]+(?:\[[^\]\s]*\])?)*)\s*\}\}"
)


def fill(template: str, values: Mapping[str, Any], *, what: str = "template") -> str:
    """``template`` with every ``{{ path }}`` replaced by its value's text."""

    def value(match: re.Match[str]) -> str:
        return _text(_lookup(values, match.group(1), what))

    return PLACEHOLDER.sub(value, template)


def names(template: str) -> list[str]:
    """The placeholder paths ``template`` uses, in order."""
    return [m.group(1) for m in PLACEHOLDER.finditer(template)]


def _lookup(values: Mapping[str, Any], path: str, what: str) -> Any:
    current: Any = values
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            known = (
                ", ".join(sorted(str(k) for k in current)) if isinstance(current, Mapping) else ""
            )
            raise StepFailed(
                f"{what}: `{{{{ {path} }}}}` names nothing at `{part}`"
                + (f" (known here: {known})" if known else "")
            )
        current = current[part]
    return current


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return "" if value is None else str(value)
