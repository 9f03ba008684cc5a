"""Runs an executor drives elsewhere, seen again once the process that followed them is gone.

The local executor runs a run's steps in the process that records it: when that process dies,
nothing runs any more and the record is all there is. An executor that hands runs to an engine
of its own (``temporal``) notes its name in the run's context (``executor``); its run goes on
without its submitter, and the record is only a projection of the engine's. For such runs the
engine's :class:`RunTracker` (the ``nestr.trackers`` entry point of that name, loaded only when
such a run is looked at) brings the record up to date when ``nestr runs list``/``runs show``
read it, and reaches the engine when ``runs cancel`` stops it. Runs a live process follows are
left to it; local runs never load anything.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from nestr.workflow.liveness import shown_status

if TYPE_CHECKING:
    from nestr.events.bus import EventBus
    from nestr.store.records import RunRecord
    from nestr.store.runs import RunStore

ENTRY_POINTS = "nestr.trackers"
REFRESH_TIMEOUT = 3.0  # seconds ``runs list``/``runs show`` wait on an engine, then show the record

Cancelled = Literal["ended", "cancelled", "requested", "absent"]
"""What :meth:`RunTracker.cancel` did: the run had ended (its record is brought up to date),
its engine stopped it (recorded so), a stop is asked and under way (its compensations may
still run), or the engine has no such run (it never started there)."""


class RunTracker(Protocol):
    """What an executor that runs steps elsewhere does for its runs nobody follows."""

    def refresh(self, store: RunStore, bus: EventBus, records: Sequence[RunRecord]) -> None:
        """Bring ``records`` up to date from the engine, publishing the usual events; start
        nothing. Within :data:`REFRESH_TIMEOUT`: an engine that does not answer in time leaves
        the records as they are (and a warning says so)."""
        ...

    def cancel(self, store: RunStore, bus: EventBus, record: RunRecord) -> Cancelled:
        """Stop ``record``'s run on the engine and record how it ended; a
        :class:`~nestr.errors.WorkFailed` (nothing recorded) when the engine cannot be
        reached."""
        ...


def tracked_by(record: RunRecord) -> str | None:
    """The executor that runs ``record`` elsewhere, or None (a local run)."""
    name = record.context.get("executor")
    return name if isinstance(name, str) and name != "local" else None


def left(record: RunRecord) -> bool:
    """Whether ``record`` is a run an engine may still be running that no process follows."""
    return tracked_by(record) is not None and shown_status(record) == "interrupted"


@functools.cache
def tracker(name: str) -> RunTracker | None:
    """The tracker of the executor ``name`` (its ``nestr.trackers`` entry point), or None."""
    from importlib.metadata import entry_points

    found = entry_points(group=ENTRY_POINTS, name=name)
    if not found:
        return None
    make = next(iter(found)).load()
    made: RunTracker = make()
    return made


def refreshed(store: RunStore, bus: EventBus, records: list[RunRecord]) -> list[RunRecord]:
    """``records``, those that :func:`left` brought up to date by their executor's tracker."""
    stale: dict[str, list[RunRecord]] = {}
    for record in records:
        if left(record):
            stale.setdefault(tracked_by(record) or "", []).append(record)
    if not stale:
        return records
    for name, runs in stale.items():
        found = tracker(name)
        if found is not None:
            found.refresh(store, bus, runs)
    again = {r.id for runs in stale.values() for r in runs}
    return [store.run(r.id) if r.id in again else r for r in records]
