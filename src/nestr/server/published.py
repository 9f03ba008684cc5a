"""Events sent to ``EventService.Publish``, checked and turned back into the library's events.

A worker forwards the events its steps made; the server keeps each one's envelope as it was
made (id, source, type, subject, time, run, step, repo, correlation id, traceparent, severity,
data) and numbers it in its own log. An event nestr would not have made — an id that is not
32 hex digits, no source, type or time, data that is not a JSON object, a field or data too
large — refuses the batch with INVALID_ARGUMENT naming it, before anything is stored; the
forwarder checks its events with the same :func:`problem` before it sends them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nestr.errors import InputError
from nestr.server._proto import events_pb2 as pb
from nestr.server.eventproto import SEVERITY_OF, from_proto

if TYPE_CHECKING:
    from nestr.events import Event

MAX_EVENTS = 1000  # per Publish call
MAX_DATA_BYTES = 1 << 20  # an event's data_json, as UTF-8
MAX_FIELD = 1024  # characters of any other text field
_ID = re.compile(r"[0-9a-f]{32}")
_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
_TEXT = ("source", "type", "subject", "run_id", "step", "repo", "correlation_id", "traceparent")


def published(messages: Sequence[pb.Event]) -> list[Event]:
    """The events of a ``PublishRequest``; raises :class:`InputError` naming the first bad
    one (``events[N]`` and its id)."""
    if len(messages) > MAX_EVENTS:
        raise InputError(
            f"a batch holds at most {MAX_EVENTS} events, got {len(messages)}",
            field="events",
            hint="send the events in smaller batches",
        )
    events = []
    for index, message in enumerate(messages):
        made = _made(message)
        if isinstance(made, str):
            raise InputError(f"event {message.id[:64]!r}: {made}", field=f"events[{index}]")
        events.append(made)
    return events


def problem(message: pb.Event) -> str | None:
    """What makes ``message`` no event nestr takes in, or None when it is one."""
    made = _made(message)
    return made if isinstance(made, str) else None


def _made(message: pb.Event) -> Event | str:
    """``message`` as an unnumbered event with its own envelope, or what is wrong with it."""
    wrong = _envelope_problem(message)
    if wrong is not None:
        return wrong
    size = len(message.data_json.encode())
    if size > MAX_DATA_BYTES:
        return f"data_json is {size} bytes, more than {MAX_DATA_BYTES}"
    data = _data(message)
    if data is None:
        return "data_json is not a JSON object"
    try:
        time = _time(message)
    except (OverflowError, ValueError, OSError):
        return "time is out of range"
    return from_proto(message, data=data, time=time, numbered=False)


def _envelope_problem(message: pb.Event) -> str | None:
    if not _ID.fullmatch(message.id):
        return "id must be 32 lowercase hex digits"
    for name in _TEXT:
        if len(getattr(message, name)) > MAX_FIELD:
            return f"{name} is longer than {MAX_FIELD} characters"
    if not message.source:
        return "source is empty"
    if not _TYPE.fullmatch(message.type):
        return f"type {message.type!r} is not a dotted name"
    if not message.HasField("time"):
        return "time is missing"
    if message.severity not in SEVERITY_OF:
        return f"severity {message.severity} is unknown"
    return None


def _data(message: pb.Event) -> dict[str, Any] | None:
    """The event's data (``{}`` for none), or None when it is not a JSON object."""
    if not message.data_json:
        return {}
    try:
        data = json.loads(message.data_json)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _time(message: pb.Event) -> datetime:
    stamp = message.time
    return datetime.fromtimestamp(stamp.seconds, UTC).replace(microsecond=stamp.nanos // 1000)
