"""Durable runs: a run started through ``nestr serve`` survives the server's SIGKILL and is
resumed by the next server, no completed step running again."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from grpc import aio

from nestr.server._proto import workflow_pb2 as pb
from nestr.server._proto import workflow_pb2_grpc as pb_grpc
from nestr.workflow.liveness import shown_status

from .conftest import GUARD, make_session
from .processes import nestr_serve

BEFORE = 10  # steps in a chain before the gate: done when the server dies
AFTER = 89  # steps after the gate: 100 in all


def manifest(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A project whose workflow ``durable`` appends each step's key to a file: a chain of
    :data:`BEFORE` steps, a gate waiting for a file, then :data:`AFTER` steps needing it.
    Returns the manifest, the append file and the gate's file."""
    root = tmp_path / "project"
    root.mkdir()
    ran, gate = tmp_path / "ran.txt", tmp_path / "go"
    lines = []
    for i in range(BEFORE):
        needs = f", needs: [s{i - 1}]" if i else ""
        lines.append(f'    - {{id: s{i}, shell: true, run: "echo s{i} >> {ran}"{needs}}}')
    wait = f"while [ ! -e {gate} ]; do sleep 0.01; done; echo gate >> {ran}"
    lines.append(f'    - {{id: gate, needs: [s{BEFORE - 1}], shell: true, run: "{wait}"}}')
    for i in range(AFTER):
        lines.append(f'    - {{id: t{i}, needs: [gate], shell: true, run: "echo t{i} >> {ran}"}}')
    body = "\n".join(lines)
    path = root / "nestr.yaml"
    path.write_text(
        f"version: 1\nrepos: []\nworkflows:\n  durable:\n    steps:\n{body}\n", encoding="utf-8"
    )
    return path, ran, gate


async def start_and_wait_for_gate(address: str, path: Path) -> str:
    """Start ``durable`` and return its id once every step before the gate succeeded and the
    gate runs."""
    async with aio.insecure_channel(address) as channel, asyncio.timeout(GUARD):
        stub = pb_grpc.WorkflowServiceStub(channel)
        request = pb.StartRunRequest(workflow="durable", manifest=str(path))
        run_id = (await stub.StartRun(request)).run_id
        while True:
            detail = await stub.GetRun(pb.GetRunRequest(run_id=run_id))
            if {s.key: s.status for s in detail.steps}.get("gate") == "running":
                return run_id
            await asyncio.sleep(0.05)


async def wait_for_status(address: str, run_id: str, status: str) -> None:
    """Poll GetRun until the run shows ``status`` (the guard ends the wait)."""
    async with aio.insecure_channel(address) as channel, asyncio.timeout(GUARD):
        stub = pb_grpc.WorkflowServiceStub(channel)
        while True:
            if (await stub.GetRun(pb.GetRunRequest(run_id=run_id))).run.status == status:
                return
            await asyncio.sleep(0.05)


def crash_during_run(tmp_path: Path) -> tuple[str, Path, Path]:
    """Start ``durable`` through a server, SIGKILL the server while the gate waits; returns
    the run id, the append file and the gate's file."""
    path, ran, gate = manifest(tmp_path)
    with nestr_serve(tmp_path / "state") as (server, address):
        run_id = asyncio.run(start_and_wait_for_gate(address, path))
        os.kill(server.pid, signal.SIGKILL)
        server.communicate(timeout=GUARD)
    return run_id, ran, gate


def shown(state: Path, run_id: str) -> str:
    with make_session(state) as session:
        return shown_status(session.queries.run(run_id))


def test_a_run_survives_a_server_crash_without_rerunning_done_steps(tmp_path: Path) -> None:
    """A 100-step run whose server is SIGKILLed with 10 steps done shows interrupted; the next
    `nestr serve` resumes it on its own (and logs it) and it succeeds with every step's
    command run exactly once: no completed step ran again."""
    run_id, ran, gate = crash_during_run(tmp_path)
    state = tmp_path / "state"
    assert shown(state, run_id) == "interrupted"
    assert ran.read_text(encoding="utf-8").split() == [f"s{i}" for i in range(BEFORE)]
    with nestr_serve(state) as (server, address):
        gate.touch()
        asyncio.run(wait_for_status(address, run_id, "succeeded"))
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=GUARD)
    assert server.returncode == 0, err
    assert err.count("resumed interrupted run") == 1, err
    assert run_id in err
    keys = ran.read_text(encoding="utf-8").split()
    expected = [f"s{i}" for i in range(BEFORE)] + ["gate"] + [f"t{i}" for i in range(AFTER)]
    assert sorted(keys) == sorted(expected)  # each once: none ran twice, none was skipped
    with make_session(state) as session:
        assert session.queries.run(run_id).resumes == 1


def test_resume_interrupted_false_leaves_the_run_interrupted(tmp_path: Path) -> None:
    """With server.resume_interrupted false, the next `nestr serve` does not resume a run its
    crashed predecessor left: it still shows interrupted, was never resumed, and no step after
    the gate ran."""
    run_id, ran, _ = crash_during_run(tmp_path)
    state = tmp_path / "state"
    with nestr_serve(state, env={"NESTR_SERVER__RESUME_INTERRUPTED": "false"}) as (server, address):
        asyncio.run(wait_for_status(address, run_id, "interrupted"))
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=GUARD)
    assert server.returncode == 0, err
    assert "resumed interrupted run" not in err
    assert shown(state, run_id) == "interrupted"
    assert ran.read_text(encoding="utf-8").split() == [f"s{i}" for i in range(BEFORE)]
    with make_session(state) as session:
        assert session.queries.run(run_id).resumes == 0
        # ends the gate's process the killed server left waiting
        assert session.cancel(run_id).outcome == "cancelled-interrupted"
