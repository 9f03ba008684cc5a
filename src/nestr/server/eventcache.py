"""Events as protobuf messages, shared by every stream of the server: one conversion per event.

Streams that replay overlapping history (clients reconnecting after a restart, dashboards that
open together, a subscriber resuming just behind the live edge) would each read the same rows
and convert them again. A replaying stream asks the log only which seqs its next page holds (an
index read), takes the messages this cache has, and reads and converts just the rest; the hub
adds every live event it converts. An event never changes once it is in the log, so an entry
never goes stale. The cache holds about :data:`CACHE_BYTES` of memory; the oldest entries go
first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from nestr.server.eventproto import from_stored, size_of

if TYPE_CHECKING:
    from nestr.server._proto import events_pb2 as pb
    from nestr.store.eventrows import StoredEvent

CACHE_BYTES = 16 << 20  # about 10,000 small events: the default queue bound's worth
MESSAGE_BYTES = 1_400  # memory a message takes beside its fields' bytes (measured: upb, 64-bit)
Cached = tuple["pb.Event", int]  # the message and about its bytes in a batch
Load = Callable[[int, int], Iterable["StoredEvent"]]  # stored events in (after, until]


class EventCache:
    """Messages by seq, taking about ``max_bytes`` of memory at most (``size``: now)."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.loaded = 0  # events read from the log and converted for a replay
        # the oldest first; popitem(last=False) is O(1), where a dict's next(iter()) walks the
        # slots its earlier deletions left empty
        self._items: OrderedDict[int, Cached] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, seq: int, message: pb.Event, size: int) -> None:
        if seq in self._items:
            return
        self._items[seq] = (message, size)
        self.size += size + MESSAGE_BYTES
        while self.size > self.max_bytes and len(self._items) > 1:
            self.size -= self._items.popitem(last=False)[1][1] + MESSAGE_BYTES

    def messages(self, seqs: Sequence[int], load: Load) -> list[Cached]:
        """The messages of ``seqs`` in order: those cached, and the rest from ``load`` (called
        once, for the span of the missing seqs). A seq the log no longer has is left out."""
        found = {seq: self._items[seq] for seq in seqs if seq in self._items}
        missing = {seq for seq in seqs if seq not in found}
        if missing:
            for row in load(min(missing) - 1, max(missing)):
                if row.seq in missing:
                    found[row.seq] = (from_stored(row), size_of(row))
                    self.put(row.seq, *found[row.seq])
                    self.loaded += 1
        return [found[seq] for seq in seqs if seq in found]
