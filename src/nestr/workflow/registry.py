"""Step types by name, from the ``nestr.steps`` entry-point group, loaded on first use.

Listing names reads only package metadata; a step's module is imported when a run (or a
conformance test) asks for that step (datasette and west load plugins the same way).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from nestr.errors import WorkflowDefinitionError, did_you_mean
from nestr.workflow.protocols import StepFactory, StepProvider, WithProblem

ENTRY_POINT_GROUP = "nestr.steps"


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


class StepRegistry:
    """Step factories by name: installed entry points plus ``extra`` ones (tests, embedders),
    then the ``providers`` (plugin processes), asked only about names nothing else has.

    It is a collection of the names it knows, so a workflow can be checked against it."""

    def __init__(
        self,
        extra: Mapping[str, StepFactory] | None = None,
        providers: Sequence[StepProvider] = (),
    ) -> None:
        self._loaded: dict[str, StepFactory] = dict(extra or {})
        self._providers = tuple(providers)

    def names(self) -> list[str]:
        return sorted({*_entry_points(), *self._loaded})

    def __contains__(self, name: object) -> bool:
        if name in self._loaded or name in _entry_points():
            return True
        return isinstance(name, str) and self._provider(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def _provider(self, name: str) -> StepProvider | None:
        return next((p for p in self._providers if p.offers(name)), None)

    def check(self, name: str, with_: Mapping[str, object]) -> Sequence[WithProblem]:
        """The problems a provider finds in a step's ``with:`` (none for other steps)."""
        if name in self._loaded or name in _entry_points():
            return ()
        provider = self._provider(name)
        return () if provider is None else provider.check(name, with_)

    def get(self, name: str) -> StepFactory:
        """The factory of ``name``, importing its module on first use."""
        factory = self._loaded.get(name)
        if factory is None:
            point = _entry_points().get(name)
            provider = self._provider(name) if point is None else None
            if provider is not None:
                return provider.factory(name)
            if point is None:
                raise WorkflowDefinitionError(
                    f"unknown step type {name!r}", hint=did_you_mean(name, self.names())
                )
            factory = point.load()
            self._loaded[name] = factory
        return factory


def default_registry() -> StepRegistry:
    return StepRegistry()
