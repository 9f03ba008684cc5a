"""`nestr ui --server`: the app over a real `nestr serve` on 127.0.0.1, killed in the middle
of a run and started again on the same port."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.client.conftest import TOKEN, Serving, serve
from tests.tui.helpers import GUARD, Project

from nestr.config.settings import Secret, ServerSettings, Settings
from nestr.events import Event
from nestr.session import Session
from nestr.store.eventlog import open_event_log
from nestr.tui.app import NestrApp
from nestr.tui.screens.base import StatusLine
from nestr.tui.source import RemoteSource


def test_remote_ui_resumes_from_its_cursor_after_the_server_is_killed(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server (which wants a token: the app sends the config's) dies while a run prints;
    the status line says reconnecting; once a server listens again the app goes on from its
    cursor: it holds every event of the log after its start, each once and in order, up to
    the run's end."""
    monkeypatch.setenv("NESTR_STATE_DIR", str(tmp_path / "state"))
    assert project.nestr("run", "broken") == 1  # something in the log before the app starts
    servers: list[Serving] = [serve(project.root, NESTR_SERVER__TOKEN=TOKEN)]
    address = servers[0].address
    app = NestrApp(RemoteSource(settings(TOKEN), address, project.root))

    def status(app: NestrApp) -> str:
        return str(app.screen.query_one(StatusLine).render())

    async def until(pilot: object, condition: object) -> None:
        for _ in range(int(GUARD / 0.05)):
            if condition():  # type: ignore[operator]
                return
            await pilot.pause(0.05)  # type: ignore[attr-defined]
        pytest.fail(f"timed out; status line: {status(app)}")

    async def scenario() -> tuple[list[int], bool]:
        async with app.run_test(size=(140, 30)) as pilot:
            await until(pilot, lambda: app.state.cursor > 0)
            run = project.start("run", "ticker")
            await until(pilot, lambda: _ticks(app) >= 3)
            servers[0].stop(signal.SIGKILL)
            await until(pilot, lambda: "reconnecting" in status(app))
            saw_reconnecting = True
            again = await asyncio.to_thread(
                serve, project.root, listen=address, NESTR_SERVER__TOKEN=TOKEN
            )
            servers.append(again)
            await asyncio.to_thread(run.wait, GUARD)
            await until(pilot, lambda: "connected" in status(app) and _ended(app))
            return [e.seq or 0 for e in app.state.events], saw_reconnecting

    try:
        seqs, saw_reconnecting = asyncio.run(scenario())
    finally:
        for server in servers:
            server.stop()
    log = open_event_log(tmp_path / "state")
    head = log.head()
    log.close()
    assert saw_reconnecting
    assert seqs == list(range(seqs[0], head + 1))  # none twice, none skipped, in order
    assert seqs[0] == 1


def _ended(app: NestrApp) -> bool:
    """The ticker run's end reached the app."""
    ticker = {r.id for r in app.state.runs.values() if r.workflow == "ticker"}
    return any(
        e.type == "nestr.workflow.run.finished" and e.run_id in ticker for e in app.state.events
    )


def _ticks(app: NestrApp) -> int:
    return sum(e.type == "nestr.workflow.step.log" for e in app.state.events)


def settings(token: str) -> Settings:
    """A client's settings with ``server.token``, as the config gives them."""
    return Settings(server=ServerSettings(token=Secret(token)))


def test_remote_ui_with_a_wrong_token_says_why_in_the_status_line(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that refuses the app's token: the status line says the stream ended and why
    (unauthenticated), and the app stays up instead of crashing."""
    monkeypatch.setenv("NESTR_STATE_DIR", str(tmp_path / "state"))
    server = serve(project.root, NESTR_SERVER__TOKEN=TOKEN)
    app = NestrApp(RemoteSource(settings("not-the-token"), server.address, project.root))

    async def scenario() -> str:
        async with app.run_test(size=(200, 30)) as pilot:
            line = app.screen.query_one(StatusLine)
            for _ in range(int(GUARD / 0.05)):
                if "stream ended" in str(line.render()):
                    break
                await pilot.pause(0.05)
            return str(line.render())

    try:
        shown = asyncio.run(scenario())
    finally:
        server.stop()
    assert "stream ended" in shown
    assert "token" in shown.lower() or "unauthenticated" in shown.lower()


class ServerThread:
    """An in-process server with tiny stream limits on a loop of its own, so that a stalled
    app (its loop blocked) cannot stall the server."""

    def __init__(self, state: Path, cwd: Path) -> None:
        self.ready = threading.Event()
        self.done = threading.Event()
        self.server: Any = None
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(state, cwd),))
        self.thread.start()
        assert self.ready.wait(GUARD)

    async def _main(self, state: Path, cwd: Path) -> None:
        from nestr.server.app import start
        from nestr.server.services.events import StreamLimits

        session = Session(Settings(state_dir=state), cwd=cwd)
        limits = StreamLimits(queue=8, batch=4, heartbeat=0.2)
        self.server = await start(session, listen="127.0.0.1:0", token=None, limits=limits)
        self.ready.set()
        # another thread asks it to stop: a threading.Event has nothing to await
        while not self.done.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await self.server.stop(0)
        session.close()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(GUARD)


def test_remote_ui_that_falls_behind_resumes_from_its_cursor(
    project: Project, tmp_path: Path
) -> None:
    """The app stops reading (its loop blocked) while large events pile up: the server ends
    its stream (it fell behind), the app subscribes again from its cursor and ends up with
    every event once, in order; the status line tells what happened."""
    state = tmp_path / "state"
    server = ServerThread(state, project.root)
    address = f"127.0.0.1:{server.server.port}"
    app = NestrApp(RemoteSource(Settings(), address, project.root))
    big = "x" * 65_536

    async def scenario() -> tuple[list[int], int, str]:
        async with app.run_test(size=(200, 30)) as pilot:
            append(state, 1, big)
            for _ in range(int(GUARD / 0.05)):
                if app.state.cursor >= 1:
                    break
                await pilot.pause(0.05)
            deadline = time.monotonic() + GUARD
            while server.server.events.overflows == 0 and time.monotonic() < deadline:
                append(state, 20, big)
                time.sleep(0.05)  # noqa: ASYNC251 -- the point: this loop reads nothing
            log = open_event_log(state)
            head = log.head()
            log.close()
            for _ in range(int(GUARD / 0.05)):
                if app.state.cursor >= head:
                    break
                await pilot.pause(0.05)
            return [e.seq or 0 for e in app.state.events], head, app.notice

    try:
        seqs, head, notice = asyncio.run(scenario())
    finally:
        server.stop()
    assert server.server.events.overflows >= 1
    assert seqs == list(range(1, head + 1))
    assert notice.startswith("reconnected to 127.0.0.1:")


def append(state: Path, count: int, subject: str) -> None:
    """Append ``count`` events through a connection of their own, as another process would."""
    log = open_event_log(state)
    for i in range(count):
        log.append(Event("nestr.test.tick", {"i": i}, subject=subject))
    log.close()
