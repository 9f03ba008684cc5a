"""What every screen of the app has: the status line on top, the keys at the bottom, and a
``redraw`` the app calls after folding new events."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

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


class KeyLine(Widget):
    """The keys of the screen in view, on one line at the bottom.

    Textual's ``Footer`` builds a widget per key and rebuilds them when the bindings change:
    about as much work as the rest of the first screen. One line of text does the same job.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"keyline--key", "keyline--description"}
    DEFAULT_CSS = """
    KeyLine {
        dock: bottom; height: 1; padding: 0 1;
        color: $footer-foreground; background: $footer-background;
    }
    KeyLine > .keyline--key {
        text-style: bold; color: $footer-key-foreground; background: $footer-key-background;
    }
    KeyLine > .keyline--description {
        color: $footer-description-foreground; background: $footer-description-background;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.refresh())

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def render(self) -> Text:
        key = self.get_component_rich_style("keyline--key")
        description = self.get_component_rich_style("keyline--description")
        parts: list[tuple[str, Style]] = []
        shown: set[str] = set()
        for _node, binding, enabled, _tip in self.screen.active_bindings.values():
            if binding.show and enabled and binding.action not in shown:
                shown.add(binding.action)
                parts.append((f" {self.app.get_key_display(binding)} ", key))
                parts.append((f"{binding.description} ", description))
        return Text.assemble(*parts, no_wrap=True, overflow="ellipsis")


class LiveScreen(Screen[None]):
    """A screen drawn from the app's :class:`LiveState`."""

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status", markup=False)
        yield from self.body()
        yield KeyLine()

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
