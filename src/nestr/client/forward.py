"""A ``nestr worker``'s events, forwarded to the nestr server at ``server.address``.

A worker writes the events of its steps and plugins to its own log first, as every nestr
process does; the forwarder follows that log and sends them to the server's
``EventService.Publish`` in batches. The log is the buffer: a step never waits for the server,
and while the server is down its events wait in the log.

- **Whose events.** Those whose ``source`` (``nestr://HOST/PID``) is a worker of this state
  dir: each worker adds its own to ``<state_dir>/forward/sources`` when it starts, so the events
  of a restarted worker's earlier life are still sent, and those of other nestr commands
  sharing the state dir (a local ``nestr run``, a submitter) are not.
- **Where it is.** ``<state_dir>/forward/cursor`` holds the last ``seq`` of the log dealt with
  (sent and acknowledged, or not a worker's). It is replaced atomically only after the server
  acknowledged a batch, so a restarted worker resends at most the batch whose reply it never
  got, which the server stores once (it takes events in by id). A cursor past the log's head
  (the store was removed) starts again from the beginning.
- **One per state dir.** The forwarder holds ``flock`` on ``<state_dir>/forward/lock``; the
  forwarder of a second worker sharing the state dir waits for it (it sends the events of
  every worker of the dir).
- **Server down.** It tries again with a backoff (0.2 s doubling up to 5 s, the channel
  reconnecting on its own), logging one line when the server becomes unreachable and one when
  it answers again. A batch the server refuses as malformed is logged and skipped; events this
  module would have refused are left out before sending (:func:`nestr.server.published.problem`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from grpc import aio

from nestr.atomicfile import write_atomic
from nestr.client import stubs
from nestr.events.envelope import process_source
from nestr.observability.logging import get_logger
from nestr.server._proto import events_pb2 as pb
from nestr.server.eventproto import add_events
from nestr.server.published import MAX_EVENTS, problem
from nestr.store.eventlog import EventLog, open_event_log
from nestr.store.eventrows import EventQuery

if TYPE_CHECKING:
    from nestr.config.settings import Settings

FOLDER = "forward"  # under the state dir
POLL = 0.1  # seconds between looks at the log when it is idle
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0  # seconds between tries while the server is down
CALL_TIMEOUT = 30.0  # seconds one Publish may take
FLUSH_GRACE = 5.0  # seconds a stopping worker's forwarder gets to send what is left
LOCK_RETRY = 2.0  # seconds between tries for the lock another worker holds

log = get_logger("nestr.forward")


class Cursor:
    """The last ``seq`` of the worker's log dealt with, in ``<folder>/cursor``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "cursor"

    def load(self) -> int:
        """The stored cursor (0 when there is none yet)."""
        try:
            return int(self.path.read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            log.warning("forward.cursor_unreadable", path=str(self.path))
            return 0

    def save(self, seq: int) -> None:
        write_atomic(self.path, f"{seq}\n".encode())


class Sources:
    """The sources of the workers of a state dir, in ``<folder>/sources``, one a line."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "sources"
        self._known: frozenset[str] = frozenset()
        self._size = -1

    def add(self, source: str) -> None:
        """Record ``source`` as a worker's (one short append: atomic between processes)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(source + "\n")

    def current(self) -> frozenset[str]:
        """Every source recorded, read again only when the file grew."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return frozenset()
        if size != self._size:
            text = self.path.read_text(encoding="utf-8")
            self._known, self._size = frozenset(filter(None, text.splitlines())), size
        return self._known


@dataclass
class Batch:
    """A request ready to send and the ``seq`` the cursor moves to once it is acknowledged."""

    request: pb.PublishRequest
    last: int


class EventForwarder:
    """Follows the log of ``settings.state_dir`` and publishes its workers' events to
    ``settings.server.address`` (see the module docstring); ``sent`` counts the events the
    server acknowledged, ``failures`` the sends that found it unreachable."""

    def __init__(self, settings: Settings, *, poll: float = POLL) -> None:
        from nestr.client.channel import open_channel

        folder = settings.state_dir / FOLDER
        self.settings = settings
        # made now: a wrong address or TLS file is an error of the worker's start (exit 2)
        self.channel = open_channel(settings.server)
        self.address = settings.server.address or ""
        self.cursor = Cursor(folder)
        self.sources = Sources(folder)
        self.lock_path = folder / "lock"
        self.poll = poll
        self.sent = 0
        self.failures = 0
        self.sources.add(process_source())  # before this process makes any event

    async def run(self, stop: asyncio.Event) -> None:
        """Forward until ``stop`` is set, then send what is left for up to ``FLUSH_GRACE``
        seconds (the events of a run's last steps)."""
        work = asyncio.create_task(self._keep_forwarding(stop))
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([work, stopped], return_when=asyncio.FIRST_COMPLETED)
            try:
                await asyncio.wait_for(work, FLUSH_GRACE)
            except TimeoutError:
                log.warning("forward.unfinished", server=self.address)
        finally:
            stopped.cancel()
            work.cancel()
            await self.channel.close()

    async def _keep_forwarding(self, stop: asyncio.Event) -> None:
        """Forward; a failure of the forwarder itself (not of the server) is logged and the
        forwarder starts again from its cursor: the worker's steps go on either way."""
        while True:
            try:
                await self._forward(stop)
                return
            except Exception:
                log.exception("forward.failed", server=self.address)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(BACKOFF_MAX):
                    await stop.wait()
            if stop.is_set():
                return

    async def _forward(self, stop: asyncio.Event) -> None:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:  # closing the file releases the lock
            if not await self._acquire(fd, stop):
                return
            events = open_event_log(self.settings.state_dir)  # a connection of its own
            try:
                await self._follow(events, stubs.events(self.channel), stop)
            finally:
                events.close()
        finally:
            os.close(fd)

    async def _follow(self, events: EventLog, stub: Any, stop: asyncio.Event) -> None:
        """Send page after page; once caught up, return if stopping, else wait for a commit."""
        after = self.cursor.load()
        if after > events.head():
            after = 0  # the store was made anew: its seqs start again
        while True:
            version = events.db.data_version()  # a commit after this read shows as a change
            batch = await asyncio.to_thread(self._batch, events, after)
            if batch is None:
                if stop.is_set():
                    return
                await self._next_commit(events, version, stop)
                continue
            if batch.request.events:
                await self._send(stub, batch.request)
            after = batch.last
            await asyncio.to_thread(self.cursor.save, after)

    async def _next_commit(self, events: EventLog, version: int, stop: asyncio.Event) -> None:
        """Until another connection commits to the log (a cheap pragma every ``poll``), or
        ``stop`` is set."""
        while events.db.data_version() == version and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):
                    await stop.wait()

    def _batch(self, events: EventLog, after: int) -> Batch | None:
        """The workers' events of the next page after ``after`` (None: nothing new)."""
        rows = events.read_stored(EventQuery(after, limit=MAX_EVENTS // 2))
        if not rows:
            return None
        mine = self.sources.current()
        ours = [row for row in rows if row.source in mine]
        request = pb.PublishRequest()
        added = add_events(request.events, ours)  # about a megabyte at most
        last = rows[-1].seq if added == len(ours) else ours[added - 1].seq
        for index in reversed(range(len(request.events))):
            wrong = problem(request.events[index])
            if wrong is not None:  # the server would refuse the batch for it
                log.warning("forward.skipped", id=request.events[index].id, problem=wrong)
                del request.events[index]
        return Batch(request, last)

    async def _send(self, stub: Any, request: pb.PublishRequest) -> None:
        """Publish ``request`` until the server acknowledges it (or refuses it as malformed)."""
        delay, failing = BACKOFF_FIRST, False
        while True:
            try:
                reply = await stub.Publish(request, timeout=CALL_TIMEOUT)
            except aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    log.error("forward.refused", server=self.address, detail=error.details())
                    return
                self.failures += 1
                if not failing:
                    log.warning(
                        "forward.unreachable",
                        server=self.address,
                        code=error.code().name,
                        detail=error.details(),
                        retry="with backoff; events wait in this worker's log",
                    )
                    failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            if failing:
                log.info("forward.resumed", server=self.address)
            self.sent += reply.stored + reply.duplicates
            return

    async def _acquire(self, fd: int, stop: asyncio.Event) -> bool:
        """Take the state dir's forwarding lock: true once held, false if ``stop`` came
        first."""
        told = False
        while not stop.is_set():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if not told:
                    log.info("forward.waiting", reason="another worker forwards this state dir")
                    told = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LOCK_RETRY):
                    await stop.wait()
        return False


@contextlib.asynccontextmanager
async def forwarding(settings: Settings) -> AsyncIterator[EventForwarder | None]:
    """Forward this worker's events while the block runs, when ``server.address`` is set
    (None otherwise); on leaving, send what is left (up to ``FLUSH_GRACE`` seconds)."""
    if not settings.server.address:
        yield None
        return
    forwarder = EventForwarder(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(stop))
    try:
        yield forwarder
    finally:
        stop.set()
        await task
