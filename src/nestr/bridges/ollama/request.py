"""A step's ``with:`` for Ollama, checked and filled: model, prompt or messages, options.

``prompt``, ``system`` and each message's ``content`` are bridge templates
(:mod:`nestr.bridges.template`) over the run so far: ``{{ steps.test.log }}`` is the last
``log_lines`` lines the ``test`` step printed, ``{{ steps.build.outputs.version }}`` an output.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nestr.bridges.catalog import check_keys
from nestr.bridges.context import BridgeContext, StepFailed
from nestr.bridges.scope import template_scope
from nestr.bridges.template import fill

DEFAULT_TIMEOUT = 300.0  # seconds for the whole answer: a model loads, then writes
DEFAULT_HOST = "http://127.0.0.1:11434"  # the client's default when OLLAMA_HOST is unset
ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class OllamaRequest:
    """What one step asks of the server."""

    model: str
    host: str | None  # None: the client's default (OLLAMA_HOST of this process, else local)
    timeout: float
    options: Mapping[str, Any]
    prompt: str = ""
    system: str | None = None
    messages: tuple[Mapping[str, str], ...] = ()

    @property
    def shown_host(self) -> str:
        return self.host or DEFAULT_HOST


def generate_request(with_: Mapping[str, Any], ctx: BridgeContext) -> OllamaRequest:
    """The request of an ``ollama.generate`` step (``prompt`` required)."""
    check_keys("ollama.generate", with_)
    values = template_scope(ctx, log_lines=_int(with_, "log_lines", 20))
    prompt = _text(with_, "prompt", "ollama.generate", required=True)
    system = _text(with_, "system", "ollama.generate")
    return OllamaRequest(
        **_common(with_, ctx, "ollama.generate"),
        prompt=fill(prompt, values, what="ollama.generate prompt"),
        system=fill(system, values, what="ollama.generate system") if system else None,
    )


def chat_request(with_: Mapping[str, Any], ctx: BridgeContext) -> OllamaRequest:
    """The request of an ``ollama.chat`` step: ``messages``, then ``prompt`` as the last user
    message and ``system`` as the first system one, when given."""
    check_keys("ollama.chat", with_)
    values = template_scope(ctx, log_lines=_int(with_, "log_lines", 20))
    messages = [_message(m, i) for i, m in enumerate(_list(with_, "messages"))]
    if system := _text(with_, "system", "ollama.chat"):
        messages.insert(0, {"role": "system", "content": system})
    if prompt := _text(with_, "prompt", "ollama.chat"):
        messages.append({"role": "user", "content": prompt})
    if not messages:
        raise StepFailed("ollama.chat: set `messages` (or `prompt`) in with:")
    filled = tuple(
        {"role": m["role"], "content": fill(m["content"], values, what="ollama.chat message")}
        for m in messages
    )
    return OllamaRequest(**_common(with_, ctx, "ollama.chat"), messages=filled)


def _common(with_: Mapping[str, Any], ctx: BridgeContext, name: str) -> dict[str, Any]:
    options = with_.get("options") or {}
    if not isinstance(options, Mapping):
        raise StepFailed(f"{name}: `options` must be a mapping (temperature: 0, num_ctx: 4096)")
    host = _text(with_, "host", name) or ctx.env.get("OLLAMA_HOST") or None
    return {
        "model": _text(with_, "model", name, required=True),
        "host": host,
        "timeout": _timeout(with_.get("timeout", DEFAULT_TIMEOUT), name),
        "options": dict(options),
    }


def _text(with_: Mapping[str, Any], key: str, name: str, *, required: bool = False) -> str:
    value = with_.get(key)
    if value is None or value == "":
        if required:
            raise StepFailed(f"{name}: set `{key}` in with:")
        return ""
    if not isinstance(value, str | int | float):
        raise StepFailed(f"{name}: `{key}` must be text, not {type(value).__name__}")
    return str(value)


def _timeout(value: Any, name: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (0 < seconds < math.inf):
        raise StepFailed(f"{name}: `timeout` must be seconds > 0, not {value!r}")
    return seconds


def _int(with_: Mapping[str, Any], key: str, default: int) -> int:
    value = with_.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise StepFailed(f"`{key}` must be a whole number ≥ 1, not {value!r}")
    return value


def _list(with_: Mapping[str, Any], key: str) -> list[Any]:
    value = with_.get(key) or []
    if not isinstance(value, list):
        raise StepFailed(f"ollama.chat: `{key}` must be a list of {{role, content}}")
    return value


def _message(raw: Any, index: int) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("content"), str):
        raise StepFailed(f"ollama.chat: messages[{index}] needs `content` (text) and a `role`")
    role = str(raw.get("role", "user"))
    if role not in ROLES:
        raise StepFailed(f"ollama.chat: messages[{index}].role is {role!r}; one of {ROLES}")
    return {"role": role, "content": raw["content"]}
