"""The events of a run's step instances, built from fields worked out once per run.

Every step emits at least two events (``started``, ``finished``). Building an :class:`Event`
through its frozen-dataclass ``__init__``, with a fresh ``uuid.uuid4()``, costs several
microseconds each — a large share of a ``noop`` step's whole cost — so the fields that never
change during a run are taken once from a real ``Event`` and each event is a copy of them with
its own type, data, instance, severity, id and time: the same value ``Event(...)`` would build.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime
from typing import Any

from nestr.events.envelope import Event, Severity
from nestr.workflow.plan import Instance

STEP_EVENT = "nestr.workflow.step"

# uuid4: random bits with the version (4) and RFC 4122 variant (0b10) bits set.
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


# Ids need to be unique, not secret: random bits from a generator seeded by os.urandom spare a
# getrandom() system call per event; reseeded in a forked child so it cannot repeat ours.
_RANDOM = random.Random()
os.register_at_fork(after_in_child=_RANDOM.seed)


def new_event_id() -> str:
    """A random version 4 UUID in hex, as ``uuid.uuid4().hex`` is, without a UUID object."""
    return f"{_RANDOM.getrandbits(128) & _V4_CLEAR | _V4_SET:032x}"


class StepEvents:
    """Makes the events of one run's instances."""

    def __init__(self, run_id: str) -> None:
        # What every step event of the run shares, as a real Event has it (defaults included).
        self._fields = dict(vars(Event(type=STEP_EVENT, run_id=run_id)))

    def event(
        self,
        instance: Instance,
        kind: str,
        data: dict[str, Any],
        severity: Severity | None = None,
    ) -> Event:
        """The ``nestr.workflow.step.<kind>`` event of ``instance``; its severity is ``error``
        when ``data`` reports a failure, else ``info``, unless given."""
        fields = self._fields.copy()
        fields["type"] = f"{STEP_EVENT}.{kind}"
        fields["data"] = data
        fields["subject"] = fields["step"] = instance.key
        fields["repo"] = instance.repo.name if instance.repo else None
        fields["severity"] = severity or ("error" if data.get("status") == "failed" else "info")
        fields["id"] = new_event_id()
        fields["time"] = datetime.now(UTC)
        event: Event = object.__new__(Event)
        event.__dict__.update(fields)  # frozen: set as its own __init__ would, field by field
        return event
