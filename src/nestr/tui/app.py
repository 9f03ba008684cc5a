"""``nestr ui``: the Textual app over one event stream.

One worker reads the stream (local log or server) from a cursor and queues what it reads; a
timer folds the queue into :class:`~nestr.tui.state.LiveState` and redraws the screen on
view ten times a second at most, however many events arrived (coalesced redraws). Queries for
history and actions run in threads, never on the loop that draws. The app only reads the
store (the log's own file): a frozen or closed UI costs the work it watches nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches

from nestr.tui.screens.base import StatusLine
from nestr.tui.screens.runs import RunsScreen
from nestr.tui.state import FIRST_PAGE, LiveState

if TYPE_CHECKING:
    from concurrent.futures import Future

    from textual.screen import Screen

    from nestr.events import Event
    from nestr.tui.source import Source
    from nestr.workflow.queries import RunRecord

FRAME = 0.1  # seconds between redraws while events arrive
TICK = 10  # frames between redraws without events: durations and countdowns go on
REPLAY = 2_000  # events read back from the head at start: recent runs' live state
HEAD_EVERY = 1.0  # seconds between asks for the head seq (the lag)


def _events() -> Screen[None]:
    from nestr.tui.screens.events import EventsScreen

    return EventsScreen()


def _workspace() -> Screen[None]:
    from nestr.tui.screens.workspace import WorkspaceScreen

    return WorkspaceScreen()


def _sync() -> Screen[None]:
    from nestr.tui.screens.sync import SyncScreen

    return SyncScreen()


class NestrApp(App[None]):
    """Runs, a run, the workspace, syncs and raw events, live."""

    TITLE = "nestr"
    # the first screen's module only: the others (and their widgets) load when first shown
    MODES: ClassVar[dict[str, Callable[[], Screen[None]]]] = {  # type: ignore[assignment]
        "runs": RunsScreen,
        "events": _events,
        "workspace": _workspace,
        "sync": _sync,
    }
    DEFAULT_MODE = "runs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('runs')", "Runs"),
        Binding("2", "switch_mode('workspace')", "Workspace"),
        Binding("3", "switch_mode('sync')", "Sync"),
        Binding("4", "switch_mode('events')", "Events"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        source: Source,
        *,
        clock: Callable[[], float] = time.time,
        first_page: Future[list[RunRecord]] | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.clock = clock  # what "now" is for durations and countdowns (fixed in snapshots)
        self.state = LiveState()
        self.head = 0
        self.notice = ""
        self.drawn: Callable[[int], None] | None = None  # told the cursor after each redraw
        self._pending: list[Event] = []
        self._last_seq = 0
        self._frames = 0
        self._streaming = False
        # the first page of runs, read while Textual starts (or earlier: ``nestr ui`` asks
        # before it imports Textual), so the Runs screen's first frame has its rows
        self.first_page = first_page or source.runs_soon(FIRST_PAGE)
        source.on_notice = self._on_notice

    def on_mount(self) -> None:
        self.set_interval(FRAME, self._frame)
        self.set_interval(HEAD_EVERY, self._ask_head)

    def start_stream(self) -> None:
        """Start reading the stream, once. The Runs screen calls it when its first rows have
        been painted: replaying the recent events (read and folded on this loop) would
        otherwise hold up the first screen."""
        if not self._streaming:
            self._streaming = True
            self.run_worker(self._start(), group="stream", exclusive=True)

    async def _start(self) -> None:
        """The head, then the stream from a little before it (recent live state); an error
        that ends the stream is shown in the status line, and the screens stay."""
        try:
            await self._stream()
        except Exception as error:  # a server refused us, the store is unreadable: say so
            self.notice = f"stream ended: {error}"
            self._draw_status()

    async def _stream(self) -> None:
        self.head = await asyncio.to_thread(self.source.head)
        since = max(0, self.head - REPLAY)
        self._last_seq = since
        async for event in self.source.follow(since):
            seq = event.seq or 0
            if seq <= self._last_seq:  # never show an event twice
                continue
            self._last_seq = seq
            self._pending.append(event)

    async def _ask_head(self) -> None:
        try:
            self.head = max(self.head, await asyncio.to_thread(self.source.head))
        except Exception:  # a server away: the status line says reconnecting meanwhile
            return

    def _frame(self) -> None:
        """Fold what arrived, then redraw once (and once a second without events)."""
        pending, self._pending = self._pending, []
        for event in pending:
            self.state.apply(event)
        self.head = max(self.head, self.state.cursor)
        self._draw_status()
        self._frames += 1
        if pending or self._frames % TICK == 0:
            redraw = getattr(self.screen, "redraw", None)
            if redraw is not None:
                with contextlib.suppress(NoMatches):  # a screen still being composed
                    redraw()
            if self.drawn is not None and pending:
                self.drawn(self.state.cursor)

    def _draw_status(self) -> None:
        lag = max(0, self.head - self.state.cursor)
        link = "connected" if self.source.connected else "reconnecting…"
        # the short, changing facts first: a long store path is cut at the end, not them
        text = f"{link} · seq {self.state.cursor} · lag {lag} · {self.source.where}"
        for line in self.screen.query(StatusLine):
            line.update(text + (f" · {self.notice}" if self.notice else ""))

    def _on_notice(self, text: str) -> None:
        self.notice = text

    def action_help(self) -> None:
        from nestr.tui.screens.dialogs import HelpScreen

        self.push_screen(HelpScreen())
