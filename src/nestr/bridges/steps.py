"""The bridges as in-process step types (``nestr.steps`` entry points).

Each class adapts one bridge function to the engine's :class:`~nestr.workflow.protocols.Step`:
:class:`EngineContext` offers the :class:`~nestr.bridges.context.BridgeContext` over the
attempt's :class:`~nestr.workflow.protocols.StepContext`, reading earlier steps' outputs,
statuses and logs from the run's store (read-only, on first use). The bridge functions come
from :mod:`nestr.bridges.catalog`, imported when a step runs, so loading the registry stays
cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nestr.bridges.catalog import load
from nestr.bridges.context import BridgeStep, Outputs
from nestr.store.db import DB_FILE, Database
from nestr.store.runs import RunStore
from nestr.workflow.protocols import StepContext


class EngineContext:
    """A :class:`~nestr.bridges.context.BridgeContext` over one attempt of the local engine."""

    def __init__(self, ctx: StepContext) -> None:
        self._ctx = ctx
        self._db: Database | None = None
        self._steps: tuple[dict[str, Mapping[str, str]], dict[str, str]] | None = None

    @property
    def env(self) -> Mapping[str, str]:
        return self._ctx.env

    def log(self, text: str, *, stream: str = "stdout") -> None:
        self._ctx.log.write(stream, text)

    def emit(self, type: str, data: Mapping[str, Any]) -> None:
        self._ctx.emit(type, data)

    def outputs(self) -> Mapping[str, Mapping[str, str]]:
        return self._records()[0]

    def statuses(self) -> Mapping[str, str]:
        return self._records()[1]

    def log_tail(self, key: str, lines: int = 20) -> str:
        store = self._store()
        if store is None:
            return ""
        records = [r for r in store.logs(self._ctx.run_id, key) if r.key == key]
        latest = max((r.attempt for r in records), default=0)
        text = "".join(r.text for r in records if r.attempt == latest)
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _records(self) -> tuple[dict[str, Mapping[str, str]], dict[str, str]]:
        if self._steps is None:
            store = self._store()
            records = store.steps(self._ctx.run_id) if store is not None else []
            self._steps = (
                {r.key: r.outputs for r in records if r.key != self._ctx.key},
                {r.key: r.status for r in records if r.key != self._ctx.key},
            )
        return self._steps

    def _store(self) -> RunStore | None:
        state_dir = self._ctx.state_dir
        if state_dir is None or not (state_dir / DB_FILE).exists():
            return None  # a step driven alone (nestr.testing.run_step) has no run behind it
        if self._db is None:
            from nestr.store.db import open_database

            self._db = open_database(state_dir)
        return RunStore(self._db)


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
