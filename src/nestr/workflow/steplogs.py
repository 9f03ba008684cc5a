"""A run's captured output, wherever it is kept: in this store, or in the store of the
Temporal worker that ran a step.

A worker keeps the log of each try it runs in its own store; the step's ``step.finished``
event in the submitter's log says where (``log: {host, state_dir, attempt}``). The logs of
such a step are read from that store when this host can (the worker runs here, on its own
state dir or this one); otherwise they are reported as kept elsewhere, with the host and the
state dir to read them on.
"""

from __future__ import annotations

import socket
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from nestr.events.catalog import STEP_FINISHED
from nestr.store.db import Database
from nestr.store.eventlog import EventLog
from nestr.store.otherlogs import logs_in
from nestr.store.records import LogRecord
from nestr.store.runs import RunStore


@dataclass(frozen=True)
class LogsElsewhere:
    """The logs of the instances ``keys``, kept in the store at ``state_dir`` on ``host``,
    which this host cannot read."""

    host: str
    state_dir: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class StepLogs:
    """The logs this host can read, and where the others are."""

    records: list[LogRecord]
    elsewhere: list[LogsElsewhere]


def step_logs(db: Database, run_id: str, keys: Collection[str]) -> StepLogs:
    """The captured output of the instances ``keys`` of ``run_id``, from this store and from
    the stores of the workers that ran them."""
    wanted = set(keys)
    records = [r for r in RunStore(db).logs(run_id) if r.key in wanted]
    places = log_places(db, run_id, wanted - {r.key for r in records})
    elsewhere: list[LogsElsewhere] = []
    here = socket.gethostname()
    for (host, state_dir), held in places.items():
        found = logs_in(Path(state_dir), run_id, held) if host == here else None
        if found is None:
            elsewhere.append(LogsElsewhere(host, state_dir, tuple(sorted(held))))
        else:
            records.extend(found)
    records.sort(key=lambda r: r.stream, reverse=True)  # stdout before stderr, as stored
    records.sort(key=lambda r: (r.key, r.attempt))
    return StepLogs(records, elsewhere)


def log_places(db: Database, run_id: str, keys: Collection[str]) -> dict[tuple[str, str], set[str]]:
    """Where the workers that ran ``keys`` of ``run_id`` keep their logs: the instances of
    each ``(host, state_dir)``, from the last ``step.finished`` of each that says."""
    if not keys:
        return {}
    last: dict[str, tuple[str, str]] = {}
    for event in EventLog(db).read(type_prefix=STEP_FINISHED.name, run_id=run_id):
        place = event.data.get("log")
        if event.step is not None and event.step in keys and isinstance(place, dict):
            last[event.step] = (str(place.get("host")), str(place.get("state_dir")))
    places: dict[tuple[str, str], set[str]] = {}
    for key, place in last.items():
        places.setdefault(place, set()).add(key)
    return places
