"""The bridge steps by name: where each function lives, what it does, its ``with:`` schema.

One table for every face of the bridges: the in-process steps (:mod:`nestr.bridges.steps`)
and an out-of-process plugin, whose ``Describe`` offers these names and JSON Schemas and whose
``Execute`` calls :func:`load`. Each bridge function checks its ``with:`` keys against its
schema first (:func:`check_keys`), so a misspelt optional key fails the step instead of being
ignored.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from nestr.bridges.context import BridgeStep, StepFailed
from nestr.errors import did_you_mean

_TEXT: dict[str, Any] = {"type": "string"}
_OLLAMA: dict[str, Any] = {
    "model": {**_TEXT, "description": "the model, as `ollama list` names it"},
    "system": {**_TEXT, "description": "a system prompt (a bridge template)"},
    "prompt": {**_TEXT, "description": "the prompt (a bridge template)"},
    "options": {"type": "object", "description": "model options (temperature, num_ctx, …)"},
    "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 300},
    "host": {**_TEXT, "description": "the server (default: OLLAMA_HOST)"},
    "log_lines": {"type": "integer", "minimum": 1, "default": 20},
}
_MESSAGE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "role": {"enum": ["system", "user", "assistant", "tool"], "default": "user"},
        "content": _TEXT,
    },
    "required": ["content"],
}


@dataclass(frozen=True)
class BridgeSpec:
    """One bridge step type."""

    name: str
    target: str  # "module:function"
    summary: str
    properties: Mapping[str, Any]
    required: tuple[str, ...] = ()

    @property
    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the step's ``with:``."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"{self.name} with:",
            "type": "object",
            "properties": dict(self.properties),
            "required": list(self.required),
            "additionalProperties": False,
        }


BRIDGE_STEPS: Mapping[str, BridgeSpec] = {
    spec.name: spec
    for spec in (
        BridgeSpec(
            "ollama.generate",
            "nestr.bridges.ollama.step:generate",
            "Ask a local Ollama model for one completion; its text is the output `text`.",
            _OLLAMA,
            ("model", "prompt"),
        ),
        BridgeSpec(
            "ollama.chat",
            "nestr.bridges.ollama.step:chat",
            "Ask a local Ollama model for the reply to a chat; its text is the output `text`.",
            {**_OLLAMA, "messages": {"type": "array", "items": _MESSAGE}},
            ("model",),
        ),
        BridgeSpec(
            "obsidian.note",
            "nestr.bridges.obsidian.step:note",
            "Write a note into an Obsidian vault, inside nestr's managed block.",
            {
                "vault": {**_TEXT, "description": "the vault (default: obsidian.vault)"},
                "title": _TEXT,
                "folder": _TEXT,
                "body": _TEXT,
                "template": {**_TEXT, "description": "a note of the vault to fill"},
                "fields": {"type": "object"},
                "properties": {"type": "object", "description": "front matter keys"},
            },
            ("title",),
        ),
    )
}


def load(name: str) -> BridgeStep:
    """The function of bridge step ``name``."""
    module, _, attribute = BRIDGE_STEPS[name].target.partition(":")
    return cast(BridgeStep, getattr(importlib.import_module(module), attribute))


def check_keys(name: str, with_: Mapping[str, Any]) -> None:
    """Fail on a ``with:`` key step ``name`` does not know, naming the closest one it does."""
    known = list(BRIDGE_STEPS[name].properties)
    for key in with_:
        if key not in known:
            hint = did_you_mean(str(key), known)
            raise StepFailed(
                f"{name}: unknown key `{key}` in with:"
                + (f" ({hint})" if hint else f" (known: {', '.join(known)})")
            )
