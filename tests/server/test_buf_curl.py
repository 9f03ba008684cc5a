"""The API through reflection alone: ``buf curl`` (npm ``@bufbuild/buf``) calls a real
``nestr serve`` without the ``.proto`` files."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from nestr.store.eventlog import open_event_log

from .conftest import GUARD, TOKEN, fill, run_writer
from .peers import buf_binary, nestr_server

HEAD = "nestr.v1.EventService/Head"


def buf_curl(
    buf: str, address: str, method: str, token: str, reflect_token: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``buf curl`` of a unary ``method`` with an empty request and ``token``, the schema from
    reflection, asked with ``reflect_token`` (default: the same token)."""
    return subprocess.run(
        [
            buf,
            "curl",
            "--protocol",
            "grpc",
            "--http2-prior-knowledge",
            "-H",
            f"authorization: Bearer {token}",
            "--reflect-header",
            f"authorization: Bearer {reflect_token or token}",
            "-d",
            "{}",
            f"http://{address}/{method}",
        ],
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )


def test_buf_curl_calls_head_through_reflection(tmp_path: Path) -> None:
    """`buf curl` with the token reads the schema by reflection and gets Head as JSON: the log's
    head seq, also after another process appended; the call with a wrong token is refused
    UNAUTHENTICATED, the token unrepeated."""
    buf = buf_binary()
    state = tmp_path / "state"
    fill(state, 3)
    with nestr_server(state, TOKEN) as address:
        first = buf_curl(buf, address, HEAD, TOKEN)
        asyncio.run(run_writer(state, 4))
        second = buf_curl(buf, address, HEAD, TOKEN)
        denied = buf_curl(buf, address, HEAD, "not-the-token", TOKEN)
    log = open_event_log(state)
    head = log.head()
    log.close()
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"headSeq": "3"}
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == {"headSeq": str(head)}
    assert head == 7
    assert denied.returncode != 0
    assert json.loads(denied.stdout + denied.stderr)["code"] == "unauthenticated"
    assert "not-the-token" not in denied.stdout + denied.stderr
