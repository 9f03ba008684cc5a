"""The bridges as in-process step types, for a program that embeds nestr's engine.

nestr itself runs the bridges as out-of-process plugins (:mod:`nestr.bridges.served`,
docs/bridges.md): these classes are not registered as ``nestr.steps`` entry points, so a
workflow's ``uses: obsidian.note`` always reaches the plugin. An embedder that wants them
in-process passes :data:`IN_PROCESS_STEPS` as a
:class:`~nestr.workflow.registry.StepRegistry`'s ``extra``.

Each class adapts one bridge function to the engine's :class:`~nestr.workflow.protocols.Step`:
:class:`EngineContext` offers the :class:`~nestr.bridges.context.BridgeContext` over the
attempt's :class:`~nestr.workflow.protocols.StepContext`, reading earlier steps' outputs,
statuses and logs from the run's store (:class:`~nestr.bridges.runview.RunView`). The bridge
functions come from :mod:`nestr.bridges.catalog`, imported when a step runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nestr.bridges.catalog import load
from nestr.bridges.context import BridgeStep, Outputs
from nestr.bridges.runview import RunView
from nestr.workflow.protocols import StepContext, StepFactory


class EngineContext:
    """A :class:`~nestr.bridges.context.BridgeContext` over one attempt of the local engine."""

    def __init__(self, ctx: StepContext) -> None:
        self._ctx = ctx
        self._run = RunView(ctx.state_dir, ctx.run_id, ctx.key)

    @property
    def env(self) -> Mapping[str, str]:
        return self._ctx.env

    def log(self, text: str, *, stream: str = "stdout") -> None:
        self._ctx.log.write(stream, text)

    def emit(self, type: str, data: Mapping[str, Any]) -> None:
        self._ctx.emit(type, data)

    def outputs(self) -> Mapping[str, Mapping[str, str]]:
        return self._run.outputs()

    def statuses(self) -> Mapping[str, str]:
        return self._run.statuses()

    def log_tail(self, key: str, lines: int = 20) -> str:
        return self._run.log_tail(key, lines)

    def close(self) -> None:
        self._run.close()


async def run_bridge(
    step: BridgeStep, ctx: StepContext, defaults: Mapping[str, Any] | None = None
) -> Outputs:
    """Run ``step`` with ``ctx``'s ``with:`` values (over ``defaults`` from the user's
    settings) and an :class:`EngineContext`."""
    bridge = EngineContext(ctx)
    with_ = {**{k: v for k, v in (defaults or {}).items() if v is not None}, **ctx.with_}
    try:
        return await step(with_, bridge)
    finally:
        bridge.close()


class ObsidianNoteStep:
    """``obsidian.note``: write a note into a vault (:func:`nestr.bridges.obsidian.step.note`)."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        vault = ctx.settings.obsidian.vault
        defaults = {"vault": None if vault is None else str(vault)}
        return await run_bridge(load("obsidian.note"), ctx, defaults)


class OllamaGenerateStep:
    """``ollama.generate``: one completion (:func:`nestr.bridges.ollama.step.generate`)."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        return await run_bridge(load("ollama.generate"), ctx)


class OllamaChatStep:
    """``ollama.chat``: one chat reply (:func:`nestr.bridges.ollama.step.chat`)."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        return await run_bridge(load("ollama.chat"), ctx)


IN_PROCESS_STEPS: dict[str, StepFactory] = {
    "obsidian.note": ObsidianNoteStep,
    "ollama.generate": OllamaGenerateStep,
    "ollama.chat": OllamaChatStep,
}
