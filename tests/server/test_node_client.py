"""The API from another language: the Node ``@grpc/grpc-js`` example client of
``examples/clients/node`` against a real ``nestr serve``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nestr.store.eventlog import open_event_log

from .conftest import GUARD, TOKEN
from .peers import NODE_CLIENT, nestr_server, node_client_modules

MANIFEST = """\
version: 1
repos: []
workflows:
  build:
    steps:
      - {id: compile, run: "echo compiled"}
      - {id: package, needs: [compile], run: "echo packed"}
"""
# the run's lifecycle events, without its step output (nestr.workflow.step.log)
TYPES = "nestr.workflow.run.,nestr.workflow.step.started,nestr.workflow.step.finished"


def subscribe(address: str, token: str, node_modules: Path, *args: str) -> subprocess.Popen[str]:
    """Start ``node subscribe.js`` against ``address`` with ``token``."""
    return subprocess.Popen(
        ["node", str(NODE_CLIENT / "subscribe.js"), "--address", address, *args],
        env={**os.environ, "NODE_PATH": str(node_modules), "NESTR_TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_node_client_receives_the_events_of_a_workflow_run(tmp_path: Path) -> None:
    """The Node client, subscribed with the token and type prefixes, prints exactly the lifecycle
    events a `nestr run` in another process stored, in seq order with their envelope and data,
    and exits after the count it was given."""
    node_modules = node_client_modules()
    state = tmp_path / "state"
    manifest = tmp_path / "nestr.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    with nestr_server(state, TOKEN) as address:
        client = subscribe(address, TOKEN, node_modules, "--count", "6", "--types", TYPES)
        try:
            run = subprocess.run(
                [sys.executable, "-m", "nestr", "run", "build", "-m", str(manifest)],
                env={**os.environ, "NESTR_STATE_DIR": str(state)},
                capture_output=True,
                text=True,
                timeout=GUARD,
                check=False,
            )
            assert run.returncode == 0, run.stdout + run.stderr
            out, err = client.communicate(timeout=GUARD)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
    assert client.returncode == 0, err
    received = [json.loads(line) for line in out.splitlines()]
    log = open_event_log(state)
    stored = log.read(type_prefix=TYPES.split(","))
    log.close()
    assert [(e["seq"], e["type"], e["run_id"], e["step"]) for e in received] == [
        (e.seq, e.type, e.run_id, e.step or "") for e in stored
    ]
    assert [e["type"].rsplit(".", 2)[-2:] for e in received] == [
        ["run", "started"],
        ["step", "started"],
        ["step", "finished"],
        ["step", "started"],
        ["step", "finished"],
        ["run", "finished"],
    ]
    assert [e["step"] for e in received] == ["", "compile", "compile", "package", "package", ""]
    assert received[-1]["data"]["status"] == "succeeded"
    assert received[0]["id"] == stored[0].id
    assert set(received[0]) == {
        *("seq", "id", "source", "type", "subject", "time", "run_id", "step", "repo"),
        *("correlation_id", "traceparent", "severity", "data"),
    }
    assert received[0]["severity"] == "SEVERITY_INFO"


def test_node_client_with_a_wrong_token_reports_unauthenticated(tmp_path: Path) -> None:
    """With another token the Node client's stream is refused: it prints UNAUTHENTICATED (never
    the token it sent) and exits 1."""
    node_modules = node_client_modules()
    with nestr_server(tmp_path / "state", TOKEN) as address:
        client = subscribe(address, "not-the-token", node_modules, "--count", "1")
        out, err = client.communicate(timeout=GUARD)
    assert client.returncode == 1, out + err
    assert out == ""
    assert err.startswith("error: UNAUTHENTICATED: "), err
    assert "not-the-token" not in err
