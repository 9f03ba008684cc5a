"""The dialogs: a yes/no confirmation before an action, and the help screen (``?``)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
nestr ui: keys

  1  Runs       recent and live runs        enter: open  s: status filter
                                            /: workflow filter  m: more
  2  Workspace  repos, refreshed by events  r: ask for a fresh status
  3  Sync       last sync per repo and its conflicts  d: their diff
  4  Events     the raw stream              p: pause  /: search
                                            t, o, u: type, repo, run filter
  In a run:     c: cancel  r: resume/re-run  escape: back
  ?  this help  q  quit

The status line shows where events come from (the local log or a server), the last
event seen (seq), the lag (head seq - seq) and the connection. NO_COLOR turns colour off.
"""


class Confirm(ModalScreen[bool]):
    """Ask once; ``y`` confirms, ``n`` or escape declines."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm > Vertical { width: 60; height: 5; border: thick $warning; padding: 0 1; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question)
            yield Static("y: yes   n: no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    """The keys of every screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Close"),
        Binding("question_mark", "app.pop_screen", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: 84; height: auto; border: round $primary; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static(HELP, id="help")
