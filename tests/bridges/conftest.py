"""The bridge steps as nestr runs them: through the out-of-process plugins.

``bridge_steps(settings=None)`` gives a step registry whose ``obsidian.*`` and ``ollama.*`` types
are served by the ``nestr-plugin-obsidian``/``nestr-plugin-ollama`` processes (found through
the ``nestr.plugins`` entry points, as a session finds them); the plugins stop with the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nestr.config.settings import Settings
from nestr.plugins.host import PluginHost
from nestr.workflow.registry import StepRegistry

BridgeSteps = Callable[..., StepRegistry]


@pytest.fixture
def bridge_steps(tmp_path: Path) -> Iterator[BridgeSteps]:
    hosts: list[PluginHost] = []

    def make(settings: Settings | None = None) -> StepRegistry:
        host = PluginHost(cwd=tmp_path, settings=settings)
        hosts.append(host)
        return StepRegistry(providers=[host])

    yield make
    for host in hosts:
        host.close()


@pytest.fixture
def bridges(bridge_steps: BridgeSteps) -> StepRegistry:
    """The plugin-served bridge steps, with nestr's default settings."""
    return bridge_steps()
