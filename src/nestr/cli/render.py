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
    """Feed the bus's events to a live display on a terminal, else to plain lines on stderr."""
    live = live_view() if sys.stderr.isatty() else None
    remove = bus.add_listener(live if live is not None else line_view)
    try:
        if live is None:
            yield
        else:
            with live.live:
                yield
    finally:
        remove()


class LiveDisplay(Protocol):
    """A renderer fed with events that owns a rich ``Live`` (``.live``)."""

    live: Any

    def __call__(self, event: Event) -> None: ...
