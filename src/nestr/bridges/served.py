"""The bridges as out-of-process step plugins: ``nestr-plugin-obsidian``, ``nestr-plugin-ollama``.

Each is a thin adapter over :mod:`nestr.bridges` built with the plugin SDK (:mod:`nestr.plugin`):
``Describe`` offers the step types of :data:`~nestr.bridges.catalog.BRIDGE_STEPS` with their
summaries and JSON Schemas, ``Validate`` checks a ``with:`` against them, and ``Execute`` runs
the bridge function with a :class:`PluginContext`: log lines and progress stream back as the
function writes them, its outputs end the call, a :class:`~nestr.workflow.protocols.StepFailed`
becomes a failed result with its message. Earlier steps' outputs, statuses and log tails are read
from the run's store named by the request's ``state_dir``
(:class:`~nestr.bridges.runview.RunView`), as the in-process adapter reads them.

Settings: a plugin reads no config file. ``obsidian.note``'s default vault comes from the
``obsidian:`` section nestr passes at the start (:func:`nestr.plugin.settings`); Ollama's
server from ``OLLAMA_HOST`` in the step's environment.

nestr finds them as the ``nestr.plugins`` entry points ``obsidian`` and ``ollama`` (run as
``python -m nestr.plugin NAME``); the console scripts are the same plugins for ``nestr plugin
check nestr-plugin-obsidian`` and for a ``plugins:`` entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nestr import __version__
from nestr.bridges.catalog import BRIDGE_STEPS, load
from nestr.bridges.context import Outputs, StepFailed
from nestr.bridges.runview import RunView
from nestr.events.catalog import STEP_PROGRESS
from nestr.plugin import Plugin, StepCall, StepError, settings
from nestr.plugin.sdk import StepFunction


class PluginContext:
    """A :class:`~nestr.bridges.context.BridgeContext` over one ``Execute`` call."""

    def __init__(self, call: StepCall) -> None:
        self._call = call
        state_dir = Path(call.state_dir) if call.state_dir else None
        self._run = RunView(state_dir, call.run_id, call.step_key)

    @property
    def env(self) -> Mapping[str, str]:
        return self._call.env

    def log(self, text: str, *, stream: str = "stdout") -> None:
        self._call.log(text, stream=stream)

    def emit(self, type: str, data: Mapping[str, Any]) -> None:
        """Progress travels as the protocol's progress; the protocol carries no other event."""
        if type == STEP_PROGRESS.name:
            total = data.get("total", 0)
            done, unit = data.get("current", 0), str(data.get("unit", ""))
            self._call.progress(done, total, str(data.get("message", "")), unit=unit)

    def outputs(self) -> Mapping[str, Mapping[str, str]]:
        return self._run.outputs()

    def statuses(self) -> Mapping[str, str]:
        return self._run.statuses()

    def log_tail(self, key: str, lines: int = 20) -> str:
        return self._run.log_tail(key, lines)

    def close(self) -> None:
        self._run.close()


def _defaults(name: str) -> dict[str, Any]:
    """``with:`` defaults a bridge takes from its config section (the vault of obsidian.note)."""
    if name == "obsidian.note":
        vault = settings().get("vault")
        return {"vault": vault} if vault else {}
    return {}


def _adapter(name: str) -> StepFunction:
    async def execute(call: StepCall) -> Outputs:
        context = PluginContext(call)
        with_ = {**_defaults(name), **call.with_}
        try:
            return await load(name)(with_, context)
        except StepFailed as exc:
            raise StepError(exc.message, returncode=exc.returncode or 0) from None
        finally:
            context.close()

    execute.__doc__ = BRIDGE_STEPS[name].summary
    return execute


def bridge_plugin(prefix: str) -> Plugin:
    """The plugin of every bridge step named ``PREFIX.*``."""
    plugin = Plugin(prefix, version=__version__)
    for spec in BRIDGE_STEPS.values():
        if spec.name.startswith(prefix + "."):
            register = plugin.step(spec.name, schema=spec.schema, description=spec.summary)
            register(_adapter(spec.name))
    return plugin


obsidian = bridge_plugin("obsidian")
ollama = bridge_plugin("ollama")


def obsidian_main() -> None:
    """``nestr-plugin-obsidian``: serve the Obsidian bridge (nestr starts it)."""
    obsidian.serve()


def ollama_main() -> None:
    """``nestr-plugin-ollama``: serve the Ollama bridge (nestr starts it)."""
    ollama.serve()
