"""A DataTable that is redrawn by difference: rows are added, changed cell by cell, or
removed, never rebuilt whole, so a refresh at 2,000 events/s costs what changed."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

Row = tuple[str, ...]


class LiveTable(DataTable[Text]):
    """Rows keyed by id; :meth:`show` makes the table hold exactly ``rows`` in that order.
    Cells are plain text: ``test[api]`` is a step key, not console markup."""

    def __init__(self, columns: Sequence[tuple[str, int]], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._names = [name for name, _ in columns]
        self._widths = dict(columns)
        self._shown: dict[str, Row] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        """Once: when mounted, or by a first :meth:`show` that comes before (a screen's)."""
        if self.columns:
            return
        for name in self._names:  # fixed widths: a live table does not jump as cells change
            self.add_column(name, key=name, width=self._widths[name])

    def show(self, rows: Sequence[tuple[str, Row]]) -> None:
        self._add_columns()
        order = [key for key, _ in rows]
        if order != self._order:
            self._rebuild(rows)
            return
        for key, cells in rows:
            old = self._shown[key]
            if old != cells:
                for name, before, after in zip(self._names, old, cells, strict=True):
                    if before != after:
                        self.update_cell(key, name, Text(after))
                self._shown[key] = cells

    def _rebuild(self, rows: Sequence[tuple[str, Row]]) -> None:
        """Rows came, went or moved (a new run, another filter): rare next to cell updates,
        so the table is refilled, the cursor kept on the row it was on."""
        selected = self.selected_key()
        self.clear()
        for key, cells in rows:
            self.add_row(*map(Text, cells), key=key)
        self._shown = dict(rows)
        self._order = [key for key, _ in rows]
        if selected in self._shown:
            self.move_cursor(row=self.get_row_index(selected))

    def selected_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if key is None else str(key)


def clock(seconds: float | None) -> str:
    """``HH:MM:SS`` local time, or ``-``."""
    return "-" if seconds is None else _clock(int(seconds))


@functools.lru_cache(maxsize=4096)
def _clock(seconds: int) -> str:
    # a redraw asks for every row's start time; `localtime` costs about 0.1 ms a call (libc
    # reads the zone file again each time when TZ is unset): ask once per distinct second
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def took(seconds: float | None) -> str:
    """A duration shown short: ``0.4s``, ``12s``, ``3m05s``."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
