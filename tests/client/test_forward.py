"""The event forwarder of ``nestr worker``: a worker's log followed from a durable cursor into
a real in-process server on 127.0.0.1, across its restarts and the server's absence."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from nestr.client.forward import Cursor, EventForwarder
from nestr.config.settings import ServerSettings, Settings
from nestr.events import Event
from nestr.server.app import Server, start
from nestr.session import Session
from nestr.store.eventlog import open_event_bus, open_event_log

GUARD = 60  # seconds: a forwarder that never delivers fails the test instead of hanging


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def worker_settings(state: Path, port: int) -> Settings:
    return replace(Settings(), state_dir=state, server=ServerSettings(address=f"127.0.0.1:{port}"))


async def serving(state: Path, port: int) -> tuple[Server, Session]:
    session = Session(Settings(state_dir=state), cwd=state)
    return await start(session, listen=f"127.0.0.1:{port}", token=None), session


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(GUARD):
        # the condition reads a store another connection writes: there is no event to await
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def ids(state: Path) -> list[str]:
    log = open_event_log(state)
    try:
        return [e.id for e in log.read()]
    finally:
        log.close()


async def forwarding(forwarder: EventForwarder, body: Callable[[], Awaitable[None]]) -> None:
    """Run ``forwarder`` while ``body`` runs, then stop it (it sends what is left)."""
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(stop))
    try:
        await body()
    finally:
        stop.set()
        await task


def test_the_workers_own_events_are_sent_and_the_cursor_follows(tmp_path: Path) -> None:
    """Events this worker made reach the server's log in order; those another process wrote
    into the same state dir do not; the cursor ends at the log's head, and a restarted
    forwarder sends only what came after it."""
    worker, central, port = tmp_path / "worker", tmp_path / "central", free_port()
    log = open_event_log(worker)
    other = [Event("nestr.test.other", source="nestr://elsewhere/1") for _ in range(2)]

    async def main() -> tuple[list[str], list[str], int, int]:
        server, session = await serving(central, port)
        bus = open_event_bus(worker)
        try:
            first = EventForwarder(worker_settings(worker, port), poll=0.01)
            own = [bus.publish(Event("nestr.test.own", {"i": i})).id for i in range(3)]
            for event in other:
                log.append(event)
            own.append(bus.publish(Event("nestr.test.own", {"i": 3})).id)

            async def sent_four() -> None:
                await until(lambda: len(ids(central)) == 4)

            await forwarding(first, sent_four)
            later = [bus.publish(Event("nestr.test.own", {"i": 4 + i})).id for i in range(2)]
            second = EventForwarder(worker_settings(worker, port), poll=0.01)

            async def sent_six() -> None:
                await until(lambda: len(ids(central)) == 6)

            await forwarding(second, sent_six)
            return own + later, ids(central), second.sent, Cursor(worker / "forward").load()
        finally:
            await server.stop(0)
            session.close()

    expected, received, resent, cursor = asyncio.run(main())
    log.close()
    assert received == expected
    assert resent == 2
    assert cursor == 8


def test_a_resend_after_a_lost_reply_is_stored_once(tmp_path: Path) -> None:
    """A worker whose cursor was not saved after the server stored a batch (the reply was
    lost) sends the batch again on its restart; the server keeps each event once."""
    worker, central, port = tmp_path / "worker", tmp_path / "central", free_port()

    async def main() -> tuple[list[str], list[str], int]:
        server, session = await serving(central, port)
        bus = open_event_bus(worker)
        try:
            first = EventForwarder(worker_settings(worker, port), poll=0.01)
            own = [bus.publish(Event("nestr.test.own", {"i": i})).id for i in range(5)]

            async def sent_all() -> None:
                await until(lambda: len(ids(central)) == 5)

            await forwarding(first, sent_all)
            Cursor(worker / "forward").save(0)  # as if the reply had never arrived
            again = EventForwarder(worker_settings(worker, port), poll=0.01)

            async def resent() -> None:
                await until(lambda: again.sent == 5)

            await forwarding(again, resent)
            return own, ids(central), Cursor(worker / "forward").load()
        finally:
            await server.stop(0)
            session.close()

    own, received, cursor = asyncio.run(main())
    assert received == own
    assert cursor == 5


def test_a_server_that_is_down_holds_the_cursor_until_it_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While nothing listens at the server's address the forwarder keeps trying without moving
    its cursor, saying so in one log line (no traceback); once the server starts there, every
    event arrives and the cursor moves to the head."""
    caplog.set_level(logging.INFO, logger="nestr.forward")
    worker, central, port = tmp_path / "worker", tmp_path / "central", free_port()

    async def main() -> tuple[int, list[str], list[str], int]:
        forwarder = EventForwarder(worker_settings(worker, port), poll=0.01)
        bus = open_event_bus(worker)
        own = [bus.publish(Event("nestr.test.own", {"i": i})).id for i in range(3)]
        stop = asyncio.Event()
        task = asyncio.create_task(forwarder.run(stop))
        await until(lambda: forwarder.failures >= 3)
        held = Cursor(worker / "forward").load()
        server, session = await serving(central, port)
        try:
            await until(lambda: len(ids(central)) == 3)
            stop.set()
            await task
        finally:
            await server.stop(0)
            session.close()
        return held, own, ids(central), Cursor(worker / "forward").load()

    held, own, received, cursor = asyncio.run(main())
    assert held == 0
    assert received == own
    assert cursor == 3
    assert caplog.text.count("forward.unreachable") == 1
    assert "forward.resumed" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_cursor_past_the_head_of_a_new_store_starts_again(tmp_path: Path) -> None:
    """A cursor left from a store that was removed (its seqs start again) does not skip the
    new store's events: they are all sent."""
    worker, central, port = tmp_path / "worker", tmp_path / "central", free_port()
    Cursor(worker / "forward").save(500)

    async def main() -> tuple[list[str], list[str]]:
        server, session = await serving(central, port)
        try:
            forwarder = EventForwarder(worker_settings(worker, port), poll=0.01)
            bus = open_event_bus(worker)
            own = [bus.publish(Event("nestr.test.own")).id for _ in range(2)]

            async def sent() -> None:
                await until(lambda: len(ids(central)) == 2)

            await forwarding(forwarder, sent)
            return own, ids(central)
        finally:
            await server.stop(0)
            session.close()

    own, received = asyncio.run(main())
    assert received == own


def test_the_cursor_file_survives_as_written(tmp_path: Path) -> None:
    """The cursor reads back what was saved, 0 when there is none, and 0 (not a crash) when
    its file holds something else."""
    cursor = Cursor(tmp_path / "forward")
    assert cursor.load() == 0
    cursor.save(41)
    assert Cursor(tmp_path / "forward").load() == 41
    cursor.path.write_text("garbage", encoding="ascii")
    assert cursor.load() == 0


def test_two_workers_of_one_state_dir_forward_through_one_of_them(tmp_path: Path) -> None:
    """Two forwarders over one state dir (two workers sharing it): one holds the lock and
    sends every event, each once; the other sends nothing while it waits."""
    worker, central, port = tmp_path / "worker", tmp_path / "central", free_port()

    async def main() -> tuple[list[str], list[str], list[int]]:
        server, session = await serving(central, port)
        try:
            first = EventForwarder(worker_settings(worker, port), poll=0.01)
            second = EventForwarder(worker_settings(worker, port), poll=0.01)
            bus = open_event_bus(worker)
            own = [bus.publish(Event("nestr.test.own", {"i": i})).id for i in range(20)]

            async def sent() -> None:
                await until(lambda: len(ids(central)) == 20)

            await forwarding(first, lambda: forwarding(second, sent))
            return own, ids(central), sorted([first.sent, second.sent])
        finally:
            await server.stop(0)
            session.close()

    own, received, counts = asyncio.run(main())
    assert received == own
    assert counts == [0, 20]
