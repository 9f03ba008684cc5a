"""`nestr serve` with and without `metrics.listen`: the stream gauges over real gRPC and HTTP,
and no prometheus_client import when metrics are off."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from grpc import aio

from nestr.events import Event
from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.store.eventlog import open_event_log

from .metrics_helpers import (
    GUARD,
    check_metrics,
    running,
    samples,
    scrape,
    scrape_after,
    state_env,
    url_of,
    value,
)

SERVE = ["serve", "--listen", "127.0.0.1:0"]
ON = {"NESTR_METRICS__LISTEN": "127.0.0.1:0"}


def append(state: Path, count: int) -> int:
    """Append ``count`` events as another process would; the head seq after them."""
    log = open_event_log(state)
    for i in range(count):
        log.append(Event("nestr.workflow.step.started", {"attempt": i + 1}))
    seq = log.head()
    log.close()
    return seq


def wait_for(url: str, name: str, wanted: float) -> str:
    """The exposition once sample ``name`` (no labels) has the ``wanted`` value."""
    deadline = time.monotonic() + GUARD
    while True:
        text = scrape(url)
        if value(samples(text), name) == wanted:
            return text
        assert time.monotonic() < deadline, text
        time.sleep(0.02)  # polling a condition, not a timing assertion


def test_serve_exports_stream_gauges_and_counts_events(tmp_path: Path) -> None:
    """With metrics.listen set, `nestr serve` prints where /metrics is; the events another
    process appends are counted; an open Subscribe stream shows as one subscriber with no
    backlog and goes when it ends; the exposition passes promtool."""
    head = append(tmp_path, 3)
    with running(SERVE, state_env(tmp_path, **ON), "metrics on ") as lines:
        assert lines[0].startswith("listening on 127.0.0.1:")
        address, url = lines[0].split()[-1], url_of(lines)
        scrape_after(url, head)
        assert value(samples(scrape(url)), "nestr_stream_subscribers") == 0

        async def subscribe() -> str:
            async with aio.insecure_channel(address) as channel, asyncio.timeout(GUARD):
                stream = pb_grpc.EventServiceStub(channel).Subscribe(pb.SubscribeRequest())
                assert len((await stream.read()).batch.events) == 3
                text = await asyncio.to_thread(wait_for, url, "nestr_stream_subscribers", 1)
                stream.cancel()
                return text

        during = asyncio.run(subscribe())
        after = wait_for(url, "nestr_stream_subscribers", 0)
        later = scrape_after(url, append(tmp_path, 2))
    assert value(samples(during), "nestr_stream_lag_events") == 0
    assert value(samples(after), "nestr_stream_overflows_total") == 0
    counted = value(samples(later), "nestr_events_total", type="nestr.workflow.step.started")
    assert counted == 5
    checked = check_metrics(during)
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


PROBE = """
import atexit, sys
from nestr.cli.main import main
atexit.register(lambda: print("PROMETHEUS", "prometheus_client" in sys.modules, file=sys.stderr))
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("env", "loaded"), [({}, False), (ON, True)])
def test_prometheus_client_loads_only_when_metrics_are_on(
    tmp_path: Path, env: dict[str, str], loaded: bool
) -> None:
    """`nestr serve` without metrics.listen never imports prometheus_client, from start to
    exit; with it set, the same probe sees it imported (so the probe can tell)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, *SERVE],
        env={**os.environ, **state_env(tmp_path, **env)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("listening on ")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=GUARD)
    assert proc.returncode == 0, err
    assert f"PROMETHEUS {loaded}" in err


def test_serve_refuses_a_bad_metrics_address(tmp_path: Path, nestr: Any) -> None:
    """`nestr serve` with a `metrics.listen` that is not host:port exits 2 naming the setting
    (after stopping the gRPC server it had started)."""
    result = nestr("--set", "metrics.listen=localhost", "serve", "--listen", "127.0.0.1:0")
    assert result.code == 2, result.err
    assert "metrics.listen: 'localhost' is not host:port" in result.err
