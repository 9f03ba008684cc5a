"""SIGTERM drains ``nestr serve``: no new work, streams end with a resume point, the runs it
executes are left interrupted (not cancelled) for the next server, and it exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from nestr.config.layers import LayerInputs
from nestr.config.loader import load_config
from nestr.errors import ConfigError
from nestr.server._proto import events_pb2 as events
from nestr.server._proto import events_pb2_grpc as events_grpc
from nestr.server._proto import workflow_pb2 as pb
from nestr.server._proto import workflow_pb2_grpc as pb_grpc
from nestr.server.services.events import RESUME_KEY
from nestr.workflow.liveness import shown_status

from .conftest import GUARD, make_session
from .processes import nestr_serve
from .test_resume_after_crash import wait_for_status

BEFORE = ["s0", "s1", "s2"]  # a chain done before the long step
AFTER = ["t0", "t1"]  # steps needing the long step


def project(tmp_path: Path) -> Path:
    """A manifest whose steps append their key to ``ran`` each time they execute: ``wf`` runs
    :data:`BEFORE`, then ``long`` (waits for the file ``go``; writes its shell's pid to
    ``long.pid``), then :data:`AFTER`; ``stubborn`` is the same with a ``long`` that ignores
    SIGTERM."""
    root = tmp_path / "project"
    root.mkdir()
    ran, go, pid = tmp_path / "ran", tmp_path / "go", tmp_path / "long.pid"
    wait = f"echo long >> {ran}; echo $$ > {pid}; while [ ! -e {go} ]; do sleep 0.01; done"
    lines = []
    for i, key in enumerate(BEFORE):
        needs = f", needs: [{BEFORE[i - 1]}]" if i else ""
        lines.append(f'{{id: {key}, shell: true, run: "echo {key} >> {ran}"{needs}}}')
    lines.append(f'{{id: long, needs: [{BEFORE[-1]}], shell: true, run: "LONG"}}')
    lines += [f'{{id: {k}, needs: [long], shell: true, run: "echo {k} >> {ran}"}}' for k in AFTER]
    steps = "\n".join(f"      - {line}" for line in lines)
    body = "\n".join(
        f"  {name}:\n    steps:\n{steps.replace('LONG', command)}"
        for name, command in (("wf", wait), ("stubborn", f"trap '' TERM; {wait}"))
    )
    path = root / "nestr.yaml"
    path.write_text(f"version: 1\nrepos: []\nworkflows:\n{body}\n", encoding="utf-8")
    return path


async def start_until_long(address: str, manifest: Path, workflow: str = "wf") -> str:
    """Start ``workflow`` and return its id once ``long`` runs (its pid is written)."""
    pid = manifest.parent.parent / "long.pid"
    async with aio.insecure_channel(address) as channel, asyncio.timeout(GUARD):
        stub = pb_grpc.WorkflowServiceStub(channel)
        request = pb.StartRunRequest(workflow=workflow, manifest=str(manifest))
        run_id = (await stub.StartRun(request)).run_id
        while not (pid.exists() and pid.read_text().strip()):  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # the step writes it: there is no event to wait on
        return run_id


def ran(tmp_path: Path) -> list[str]:
    return sorted((tmp_path / "ran").read_text(encoding="utf-8").split())


def assert_left_to_resume(tmp_path: Path, run_id: str) -> None:
    """The run shows interrupted, nothing of it is recorded cancelled, ``long`` is pending
    again, ``run.interrupted`` was logged (and no ``run.finished``), and ``long``'s process
    is gone."""
    with make_session(tmp_path / "state") as session:
        detail = session.queries.detail(run_id)
        page, _, _ = session.event_page(after_seq=0, limit=10_000, run_id=run_id)
    assert shown_status(detail.run) == "interrupted"
    statuses = {s.key: s.status for s in detail.steps}
    assert statuses == {
        **dict.fromkeys(BEFORE, "succeeded"),
        **dict.fromkeys(["long", *AFTER], "pending"),
    }
    assert [a.status for a in detail.attempts if a.key == "long"] == ["interrupted"]
    types = [e.type for e in page]
    assert types.count("nestr.workflow.run.interrupted") == 1
    assert "nestr.workflow.run.finished" not in types
    with pytest.raises(ProcessLookupError):
        os.kill(int((tmp_path / "long.pid").read_text()), 0)


def finish_on_a_new_server(tmp_path: Path, run_id: str) -> str:
    """Start the next ``nestr serve`` (it resumes the run), let ``long`` end, wait until the
    run succeeded; returns the server's log."""
    with nestr_serve(tmp_path / "state") as (server, address):
        (tmp_path / "go").touch()
        asyncio.run(wait_for_status(address, run_id, "succeeded"))
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=GUARD)
    assert server.returncode == 0, err
    return err


def test_sigterm_leaves_the_run_to_the_next_server_which_finishes_it(tmp_path: Path) -> None:
    """SIGTERM during a run's long step: the server exits 0 with the run interrupted, not
    cancelled (its step process gone, the step pending again); the next server resumes it
    and it succeeds, every step before ``long`` having run exactly once and ``long`` twice
    (interrupted, then again)."""
    manifest = project(tmp_path)
    with nestr_serve(tmp_path / "state") as (server, address):
        run_id = asyncio.run(start_until_long(address, manifest))
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=GUARD)
    assert server.returncode == 0, err
    assert "draining" in err
    assert "run left to a resume" in err
    assert_left_to_resume(tmp_path, run_id)
    assert ran(tmp_path) == sorted([*BEFORE, "long"])
    err = finish_on_a_new_server(tmp_path, run_id)
    assert "resumed interrupted run" in err
    assert ran(tmp_path) == sorted([*BEFORE, "long", "long", *AFTER])


async def follow_until_error(address: str, server_pid: int) -> tuple[list[int], aio.AioRpcError]:
    """Subscribe from the start, signal the server once the stream delivered the head of the
    log, and read until the stream ends; returns the seqs received and how it ended."""
    async with aio.insecure_channel(address) as channel, asyncio.timeout(GUARD):
        stub = events_grpc.EventServiceStub(channel)
        head = (await stub.Head(events.HeadRequest())).head_seq
        stream = stub.Subscribe(events.SubscribeRequest(after_seq=0))
        seqs: list[int] = []
        signalled = False
        try:
            while True:
                response = await stream.read()
                seqs += [e.seq for e in response.batch.events]
                if not signalled and seqs and seqs[-1] >= head:
                    os.kill(server_pid, signal.SIGTERM)
                    signalled = True
        except aio.AioRpcError as error:
            return seqs, error


async def follow_until_finished(address: str, after: int, run_id: str) -> list[events.Event]:
    """Subscribe after ``after`` and return what arrives until ``run_id`` finished."""
    async with aio.insecure_channel(address) as channel, asyncio.timeout(GUARD):
        stream = events_grpc.EventServiceStub(channel).Subscribe(
            events.SubscribeRequest(after_seq=after)
        )
        got: list[events.Event] = []
        while not any(e.type == "nestr.workflow.run.finished" and e.run_id == run_id for e in got):
            got += (await stream.read()).batch.events
        stream.cancel()
        return got


def test_an_open_stream_ends_unavailable_with_a_resume_point(tmp_path: Path) -> None:
    """A Subscribe stream open when the server drains ends UNAVAILABLE with the seq of the last
    event it sent (trailing metadata and message); subscribing to the next server from that
    seq gives every event of the log exactly once, the interruption and the run's end
    included."""
    manifest = project(tmp_path)
    with nestr_serve(tmp_path / "state") as (server, address):
        run_id = asyncio.run(start_until_long(address, manifest))
        seqs, error = asyncio.run(follow_until_error(address, server.pid))
        _, err = server.communicate(timeout=GUARD)
    assert server.returncode == 0, err
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    resume = int(dict(error.trailing_metadata() or ())[RESUME_KEY])
    assert seqs
    assert resume == seqs[-1]
    assert f"after_seq={resume}" in (error.details() or "")
    with nestr_serve(tmp_path / "state") as (server, address):
        (tmp_path / "go").touch()
        later = asyncio.run(follow_until_finished(address, resume, run_id))
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=GUARD)
    assert server.returncode == 0, err
    every = seqs + [e.seq for e in later]
    assert every == list(range(1, every[-1] + 1))  # no gap, no duplicate
    assert [e.type for e in later].count("nestr.workflow.run.interrupted") == 1


async def refused_while_draining(
    address: str, server_pid: int, manifest: Path
) -> tuple[aio.AioRpcError, list[str]]:
    """SIGTERM the server, wait until health says NOT_SERVING, then try StartRun and ListRuns;
    returns StartRun's error and the runs listed."""
    async with aio.insecure_channel(address) as channel, asyncio.timeout(GUARD):
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        os.kill(server_pid, signal.SIGTERM)
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()
        stub = pb_grpc.WorkflowServiceStub(channel)
        with pytest.raises(aio.AioRpcError) as refused:
            await stub.StartRun(pb.StartRunRequest(workflow="wf", manifest=str(manifest)))
        runs = await stub.ListRuns(pb.ListRunsRequest())
        return refused.value, [r.id for r in runs.runs]


def test_work_is_refused_while_draining_and_a_second_signal_ends_the_drain(
    tmp_path: Path,
) -> None:
    """While the server drains (its run's step ignores SIGTERM, so stopping it takes the step's
    grace period), StartRun is refused UNAVAILABLE with "the server is shutting down" and reads
    are still answered; a second SIGTERM ends the drain at once (the step's group is
    SIGKILLed): exit 0, the run still left to a resume, and no second run recorded."""
    manifest = project(tmp_path)
    with nestr_serve(tmp_path / "state") as (server, address):
        run_id = asyncio.run(start_until_long(address, manifest, "stubborn"))
        error, listed = asyncio.run(refused_while_draining(address, server.pid, manifest))
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=GUARD)
    assert server.returncode == 0, err
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "the server is shutting down" in (error.details() or "")
    assert listed == [run_id]
    assert "hurried=True" in err or '"hurried": true' in err, err
    assert_left_to_resume(tmp_path, run_id)


def test_drain_grace_is_read_and_validated(tmp_path: Path) -> None:
    """server.drain_grace is seconds from 0 to 3600: a valid value is the server's setting, a
    negative, infinite or too long one in a file is refused at its file:line:col."""
    config = tmp_path / "nestr.config.yaml"

    def load(text: str) -> float:
        config.write_text(text, encoding="utf-8")
        inputs = LayerInputs(cwd=tmp_path, environ={}, system_dir=tmp_path / "etc")
        return load_config(inputs).settings.server.drain_grace

    assert load("server:\n  resume_interrupted: true\n") == 5.0
    assert load("server:\n  drain_grace: 0.5\n") == 0.5
    for bad in ("-1", ".inf", "3601", "soon"):
        with pytest.raises(ConfigError, match=r"nestr.config.yaml:2:16: server.drain_grace: "):
            load(f"server:\n  drain_grace: {bad}\n")
