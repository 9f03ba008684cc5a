"""Run one async function over many items with bounded parallelism.

Every fan-out across repos goes through :func:`fan_out`: a TaskGroup and a semaphore of ``jobs``;
``jobs=1`` is plain sequential execution, easy to debug. One item's failure is one
:class:`Outcome` with its error, never an aborted fleet (all-repos' ``repo_context``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome(Generic[T, R]):
    """The result of one item, or the error it raised."""

    item: T
    value: R | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def fan_out(
    items: Sequence[T], fn: Callable[[T], Awaitable[R]], *, jobs: int
) -> list[Outcome[T, R]]:
    """``fn(item)`` for each item, at most ``jobs`` at a time; outcomes in input order."""
    if jobs <= 1:
        return [await _one(item, fn) for item in items]
    semaphore = asyncio.Semaphore(jobs)

    async def guarded(item: T) -> Outcome[T, R]:
        async with semaphore:
            return await _one(item, fn)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(guarded(item)) for item in items]
    return [task.result() for task in tasks]


async def _one(item: T, fn: Callable[[T], Awaitable[R]]) -> Outcome[T, R]:
    try:
        return Outcome(item, value=await fn(item))
    except Exception as exc:  # one item's failure, of any kind, is that item's outcome
        return Outcome(item, error=exc)
