"""Where a child's output goes: text as it is read, or whole lines.

The runner hands each read to an :class:`OutputSink` as text (UTF-8, invalid bytes replaced; a
character cut in two by a read is decoded whole with the next one). A caller that wants lines
wraps its callback in :class:`Lines`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class OutputSink(Protocol):
    """Receives a child's output as it is read, per stream (``stdout`` or ``stderr``)."""

    def write(self, stream: str, text: str) -> None:
        """Take ``text``, the next piece of ``stream`` (not cut at line ends)."""
        ...


class Lines:
    """An :class:`OutputSink` that calls ``line(stream, text)`` once per line, without its
    ``\\n`` (nor a ``\\r`` before it); :meth:`flush` passes on a last line that has no newline.

    It splits whatever it is given, so a line far longer than a pipe read arrives whole and
    never fails the run (``StreamReader.readline`` raises on a line beyond its limit).
    """

    def __init__(self, line: Callable[[str, str], None]) -> None:
        self._line = line
        self._pending: dict[str, str] = {}

    def write(self, stream: str, text: str) -> None:
        """Pass on every line ``text`` completes; keep the rest for the next write."""
        *lines, rest = (self._pending.pop(stream, "") + text).split("\n")
        for line in lines:
            self._line(stream, line.removesuffix("\r"))
        if rest:
            self._pending[stream] = rest

    def flush(self) -> None:
        """The output has ended: pass on each stream's last line that had no newline."""
        pending, self._pending = self._pending, {}
        for stream, rest in pending.items():
            self._line(stream, rest.removesuffix("\r"))
