"""The values a bridge template sees: ``steps.<key>.outputs|status|log`` of the run so far.

Built lazily over a :class:`~nestr.bridges.context.BridgeContext`: a template that never names
a log never reads one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from nestr.bridges.context import BridgeContext

_FIELDS = ("outputs", "status", "log")


class _StepValues(Mapping[str, Any]):
    """One instance's ``outputs``, ``status`` and ``log`` (its output's last lines)."""

    def __init__(self, ctx: BridgeContext, key: str, lines: int) -> None:
        self._ctx, self._key, self._lines = ctx, key, lines

    def __getitem__(self, name: str) -> Any:
        if name == "outputs":
            return dict(self._ctx.outputs().get(self._key, {}))
        if name == "status":
            return self._ctx.statuses().get(self._key, "pending")
        if name == "log":
            return self._ctx.log_tail(self._key, self._lines)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELDS)

    def __len__(self) -> int:
        return len(_FIELDS)


class _Steps(Mapping[str, Any]):
    def __init__(self, ctx: BridgeContext, lines: int) -> None:
        self._ctx, self._lines = ctx, lines

    def __getitem__(self, key: str) -> _StepValues:
        if key not in self._ctx.statuses():
            raise KeyError(key)
        return _StepValues(self._ctx, key, self._lines)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ctx.statuses())

    def __len__(self) -> int:
        return len(self._ctx.statuses())


def template_scope(ctx: BridgeContext, *, log_lines: int = 20, **extra: Any) -> dict[str, Any]:
    """``steps`` of the run (see the module docstring) beside ``extra`` values."""
    return {"steps": _Steps(ctx, log_lines), **extra}
