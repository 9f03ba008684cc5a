"""The Events screen: the raw stream, filtered by type, repo and run, with a pause key and a
search (``/``). It writes only the events it has not written yet (a frame's worth), and
rewrites the log from the kept events when a filter changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Log

from nestr.tui.screens.base import LiveScreen
from nestr.tui.state import MAX_EVENTS

if TYPE_CHECKING:
    from nestr.events import Event

FIELDS = {"t": "type", "o": "repo", "u": "run", "slash": "search"}


def line(event: Event) -> str:
    """One event as a line: seq, time, type, what it is about, its data."""
    when = event.time.strftime("%H:%M:%S.%f")[:-3]
    about = " ".join(
        f"{name}={value}"
        for name, value in (("run", event.run_id), ("step", event.step), ("repo", event.repo))
        if value
    )
    data = " ".join(f"{k}={v}" for k, v in event.data.items() if v not in (None, "", {}))
    return f"{event.seq:>7} {when} {event.type} {about} {data[:200]}".rstrip()


class EventsScreen(LiveScreen):
    """Every event, as it comes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause"),
        Binding("slash", "ask('search')", "Search"),
        Binding("t", "ask('type')", "Type"),
        Binding("o", "ask('repo')", "Repo"),
        Binding("u", "ask('run')", "Run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filters = {"type": "", "repo": "", "run": "", "search": ""}
        self.paused = False
        self._written = 0  # the last seq written to the log
        self._asking = "search"

    def body(self) -> ComposeResult:
        yield Log(max_lines=MAX_EVENTS, id="events")
        yield Input(id="ask")

    def on_mount(self) -> None:
        self.query_one(Input).display = False

    def matches(self, event: Event) -> bool:
        f = self.filters
        return (
            event.type.startswith(f["type"])
            and (not f["repo"] or event.repo == f["repo"])
            and (not f["run"] or (event.run_id or "").startswith(f["run"]))
            and (not f["search"] or f["search"] in line(event))
        )

    def redraw(self) -> None:
        if self.paused:
            return
        log = self.query_one(Log)
        new: list[Event] = []
        for event in reversed(self.state.events):  # newest first, back to the last written
            if (event.seq or 0) <= self._written:
                break
            new.append(event)
        lines = [line(event) for event in reversed(new) if self.matches(event)]
        if lines:  # a Log renders only the lines in view: a frame's cost is what is seen
            log.write_lines(lines)
        self._written = self.state.cursor
        self._title()

    def rewrite(self) -> None:
        self.query_one(Log).clear()
        self._written = 0
        self.redraw()

    def _title(self) -> None:
        shown = " ".join(f"{k}={v}" for k, v in self.filters.items() if v)
        self.sub_title = ("PAUSED " if self.paused else "") + shown

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._title()
        if not self.paused:
            self.redraw()

    def action_ask(self, field: str) -> None:
        self._asking = field
        box = self.query_one(Input)
        box.placeholder = f"{field} (enter applies, empty clears)"
        box.value = self.filters[field]
        box.display = True
        box.focus()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        self.filters[self._asking] = message.value.strip()
        message.input.display = False
        self.query_one(Log).focus()
        self.rewrite()
