"""``nestr serve`` as a real process: it serves a token-protected stream, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc import aio

from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc

from .conftest import GUARD, TOKEN, fill, run_writer
from .processes import nestr_serve


def serve_env(state: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "NESTR_STATE_DIR": str(state), **extra}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_streams_events_of_other_processes_and_stops_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """`nestr serve` on port 0 prints its address; a client with the token gets the stored events
    then those another process appends, gap-free; a wrong token is refused; each call is logged
    as one JSON line with its correlation id; SIGTERM or SIGINT exits 0 and the token is printed
    nowhere."""
    fill(tmp_path, 3)
    token = {"NESTR_SERVER__TOKEN": TOKEN}
    with nestr_serve(tmp_path, env=token, json_logs=True) as (server, address):

        async def client() -> tuple[list[int], grpc.StatusCode]:
            async with aio.insecure_channel(address) as channel, asyncio.timeout(GUARD):
                stub = pb_grpc.EventServiceStub(channel)
                denied = stub.Subscribe(pb.SubscribeRequest(), metadata=(("authorization", "x"),))
                try:
                    await denied.read()
                except aio.AioRpcError as error:
                    code = error.code()
                auth = (("authorization", f"Bearer {TOKEN}"), ("x-correlation-id", "watch-1"))
                stream = stub.Subscribe(pb.SubscribeRequest(), metadata=auth)
                seqs = [e.seq for e in (await stream.read()).batch.events]
                writer = asyncio.create_task(run_writer(tmp_path, 40))
                while seqs[-1] < 43:
                    seqs += [e.seq for e in (await stream.read()).batch.events]
                await writer
                stream.cancel()
                return seqs, code

        seqs, code = asyncio.run(client())
        assert seqs == list(range(1, 44))
        assert code == grpc.StatusCode.UNAUTHENTICATED
        server.send_signal(stop)
        out, err = server.communicate(timeout=GUARD)
        assert server.returncode == 0, err
        assert TOKEN not in out + err + address
        calls = [json.loads(text) for text in err.splitlines() if '"rpc"' in text]
        assert [(c["method"].rsplit("/", 1)[1], c["code"]) for c in calls[:1]] == [
            ("Subscribe", "UNAUTHENTICATED")
        ]
        # the stream the client cancelled: UNAVAILABLE when the drain reached it first
        assert calls[1]["method"].endswith("/Subscribe")
        assert calls[1]["code"] in {"CANCELLED", "UNAVAILABLE"}
        assert len(calls) == 2
        assert calls[1]["correlation_id"] == "watch-1"


def test_serve_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    """`nestr serve --listen 0.0.0.0:0` without server.token exits 2 with the reason and a hint,
    before listening."""
    done = subprocess.run(
        [sys.executable, "-m", "nestr", "serve", "--listen", "0.0.0.0:0"],
        env=serve_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )
    assert done.returncode == 2, done
    assert "not a loopback address and server.token is not set" in done.stderr
    assert "hint:" in done.stderr
    assert "listening" not in done.stdout


def test_serve_reports_an_address_it_cannot_listen_on(tmp_path: Path) -> None:
    """A port another socket holds makes `nestr serve` exit 1 naming the address, with a hint."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        address = f"127.0.0.1:{held.getsockname()[1]}"
        done = subprocess.run(
            [sys.executable, "-m", "nestr", "serve", "--listen", address],
            env=serve_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=GUARD,
            check=False,
        )
    assert done.returncode == 1, done
    assert f"cannot listen on '{address}'" in done.stderr
    assert "hint: choose another server.listen" in done.stderr
