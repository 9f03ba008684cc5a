"""What every screen of the app has: the status line on top, the keys at the bottom, and a
``redraw`` the app calls after folding new events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

if TYPE_CHECKING:
    from nestr.tui.app import NestrApp
    from nestr.tui.state import LiveState


class StatusLine(Static):
    """Where events come from, the cursor, the lag, the connection."""

    DEFAULT_CSS = """
    StatusLine {
        dock: top; height: 1; background: $primary-background; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """


class LiveScreen(Screen[None]):
    """A screen drawn from the app's :class:`LiveState`."""

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status", markup=False)
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def on_screen_resume(self) -> None:
        self.redraw()

    @property
    def live(self) -> NestrApp:
        from nestr.tui.app import NestrApp

        assert isinstance(self.app, NestrApp)
        return self.app

    @property
    def state(self) -> LiveState:
        return self.live.state

    def redraw(self) -> None:
        """Show the state as it is now (called at most once per frame)."""
