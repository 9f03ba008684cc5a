"""A step's captured output: kept up to a size cap per stream, and published live.

Past the cap the text is dropped and the record is marked truncated, so a step that prints
gigabytes cannot fill the store; the live view still sees that output stopped being kept.
"""

from __future__ import annotations

from collections.abc import Callable

DEFAULT_CAP = 1024 * 1024  # characters kept per stream and attempt
TRUNCATED_MARK = "\n[… output truncated by nestr: cap of {cap} characters reached]\n"


class CapturedLog:
    """A :class:`~nestr.workflow.protocols.LogSink` that stores and forwards output."""

    def __init__(
        self, *, cap: int = DEFAULT_CAP, publish: Callable[[str, str], None] | None = None
    ) -> None:
        self.cap = cap
        self._publish = publish
        self._parts: dict[str, list[str]] = {}
        self._sizes: dict[str, int] = {}
        self._truncated: set[str] = set()

    def write(self, stream: str, text: str) -> None:
        if not text or stream in self._truncated:
            return
        size = self._sizes.get(stream, 0)
        room = self.cap - size
        if len(text) > room:
            text = text[:room] + TRUNCATED_MARK.format(cap=self.cap)
            self._truncated.add(stream)
        self._parts.setdefault(stream, []).append(text)
        self._sizes[stream] = size + len(text)
        if self._publish is not None:
            self._publish(stream, text)

    def text(self, stream: str) -> str:
        return "".join(self._parts.get(stream, ()))

    def records(self) -> list[tuple[str, str, bool]]:
        """``(stream, text, truncated)`` for each stream that printed something."""
        return [(s, self.text(s), s in self._truncated) for s in self._parts]

    def tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of stdout and stderr together (for failure reports)."""
        text = self.text("stdout") + self.text("stderr")
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])
