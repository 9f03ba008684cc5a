"""Small rendering helpers shared by commands: JSON to stdout, tables via rich."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import click

if TYPE_CHECKING:
    from nestr.events import Event, EventBus


def print_json(data: Any) -> None:
    """Stable, pretty JSON on stdout (keys sorted, UTF-8)."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/json.md).")


@contextlib.contextmanager
def follow_events(
    bus: EventBus, live_view: Callable[[], LiveDisplay], line_view: Callable[[Event], None]
) -> Iterator[None]:
    """Feed the bus's events to a live display on a terminal, else to plain lines on stderr.

    Off a terminal stderr holds one format: with JSON logs (``--log-format json``) each event
    is a JSON log line instead of a plain progress line.
    """
    from nestr.observability.logging import logs_as_json

    live = live_view() if sys.stderr.isatty() else None
    plain = _log_event if logs_as_json() else line_view
    remove = bus.add_listener(live if live is not None else plain)
    try:
        if live is None:
            yield
        else:
            with live.live:
                yield
    finally:
        remove()


def _log_event(event: Event) -> None:
    """One progress event as a log line (JSON when logs are JSON), warnings and errors as such."""
    from nestr.observability.logging import get_logger

    log = get_logger("nestr.progress")
    fields = {"type": event.type, "repo": event.repo, "step": event.step, "run_id": event.run_id}
    fields = {k: v for k, v in fields.items() if v is not None}
    emit = {"warning": log.warning, "error": log.error}.get(event.severity, log.info)
    emit("progress", **fields, data=event.data)


class LiveDisplay(Protocol):
    """A renderer fed with events that owns a rich ``Live`` (``.live``)."""

    live: Any

    def __call__(self, event: Event) -> None: ...
