"""A worker's step events on the nestr server: a real ``nestr worker`` with ``server.address``
forwards them to a real ``nestr serve`` on 127.0.0.1, across a restart of that server."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from grpc import aio
from tests.server.processes import listening, start_serve
from tests.temporal.conftest import Cluster
from tests.temporal.test_temporal_durability import Background, chain, wait_for
from tests.workflow.conftest import Project

from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.store.eventlog import open_event_log

TOKEN = "t0ken-of-the-worker-events-tests"
STEP = ("nestr.workflow.step.started", "nestr.workflow.step.finished")


class NestrServer:
    """A real ``nestr serve`` on a fixed port of 127.0.0.1 over one state dir: stopped and
    started again on both."""

    def __init__(self, state: Path) -> None:
        self.state = state
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.address = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = {"NESTR_SERVER__TOKEN": TOKEN}
        self.process = start_serve(
            self.state, listen=self.address, env=env, stderr=subprocess.DEVNULL
        )
        assert listening(self.process) == self.address

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        if self.process is not None:
            self.process.communicate(timeout=60)


@pytest.fixture
def nestr_server(tmp_path: Path) -> Iterator[NestrServer]:
    server = NestrServer(tmp_path / "central")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def server_events(address: str, run_id: str) -> list[pb.Event]:
    """The step events of ``run_id`` in the server's log (``GetEvents``, every page)."""

    async def read() -> list[pb.Event]:
        found: list[pb.Event] = []
        async with aio.insecure_channel(address) as channel:
            stub = pb_grpc.EventServiceStub(channel)
            after = 0
            while True:
                request = pb.GetEventsRequest(after_seq=after, types=STEP, run_id=run_id)
                page = await stub.GetEvents(
                    request, metadata=(("authorization", f"Bearer {TOKEN}"),)
                )
                found += page.events
                if page.end:
                    return found
                after = page.next_after_seq

    return asyncio.run(read())


def test_step_events_reach_the_server_once_each_across_its_restart(
    cluster: Cluster, project: Project, nestr_server: NestrServer, tmp_path: Path
) -> None:
    """A run on Temporal whose steps ran on a worker configured with the server's address and
    token: the server's log holds every step event of the worker's, with the Temporal workflow
    and run ids, exactly once each, although the server was stopped mid-run and started again
    on its state dir; the worker said so in one line when it lost the server and one when it
    found it again."""
    cluster.workers.pop(0).stop()  # only a forwarding worker serves the queue
    env = {"NESTR_SERVER__ADDRESS": nestr_server.address, "NESTR_SERVER__TOKEN": TOKEN}
    worker = cluster.worker(name="forwarding", env=env)
    markers = tmp_path / "markers"
    chain(project, markers, 12, 0.1)
    settings = cluster.settings(project.state_dir)
    run = Background(lambda: project.run("wf", settings=settings, run_id="fwd"))
    wait_for(lambda: len(list(markers.iterdir())) >= 4)
    nestr_server.stop()
    wait_for(lambda: len(list(markers.iterdir())) >= 7)  # steps go on without the server
    nestr_server.start()
    result = run.join()
    assert result.ok, result.to_dict()
    log = open_event_log(worker.state_dir)
    try:
        made = {e.id: e for e in log.read(type_prefix=STEP, run_id="fwd")}
    finally:
        log.close()
    assert len(made) == 24  # a start and an end for each of the 12 steps
    wait_for(lambda: len(server_events(nestr_server.address, "fwd")) >= len(made))
    received = server_events(nestr_server.address, "fwd")
    assert Counter(e.id for e in received) == Counter(made.keys())  # each once, none other
    for event in received:
        temporal = json.loads(event.data_json)["temporal"]
        assert temporal["workflow_id"] == "nestr-fwd"
        assert temporal["run_id"]
        assert event.source == made[event.id].source
        assert event.step == made[event.id].step
    said = (worker.state_dir / "worker.log").read_text()  # one line per outage, no traceback
    assert (said.count("forward.unreachable"), said.count("forward.resumed")) == (1, 1)
    assert "Traceback" not in said
