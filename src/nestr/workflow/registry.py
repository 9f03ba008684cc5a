"""Step types by name, from the ``nestr.steps`` entry-point group, loaded on first use.

Listing names reads only package metadata; a step's module is imported when a run (or a
conformance test) asks for that step (datasette and west load plugins the same way).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from nestr.errors import WorkflowDefinitionError, did_you_mean
from nestr.workflow.protocols import StepFactory

ENTRY_POINT_GROUP = "nestr.steps"


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


class StepRegistry:
    """Step factories by name: installed entry points plus ``extra`` ones (tests, embedders)."""

    def __init__(self, extra: Mapping[str, StepFactory] | None = None) -> None:
        self._loaded: dict[str, StepFactory] = dict(extra or {})

    def names(self) -> list[str]:
        return sorted({*_entry_points(), *self._loaded})

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in _entry_points()

    def get(self, name: str) -> StepFactory:
        """The factory of ``name``, importing its module on first use."""
        factory = self._loaded.get(name)
        if factory is None:
            point = _entry_points().get(name)
            if point is None:
                raise WorkflowDefinitionError(
                    f"unknown step type {name!r}", hint=did_you_mean(name, self.names())
                )
            factory = point.load()
            self._loaded[name] = factory
        return factory


def default_registry() -> StepRegistry:
    return StepRegistry()
