"""gRPC's C core stays off `nestr serve --log-format json`'s stderr: failed TLS handshakes leave
only JSON lines there, unless the user asks for the core's lines with GRPC_VERBOSITY."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
from grpc import aio

from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc

from .certs import Pair
from .conftest import GUARD
from .processes import nestr_serve


def mtls_config(tmp_path: Path, pki: dict[str, Pair]) -> Path:
    """A config file serving mTLS on a free port of 127.0.0.1."""
    config = tmp_path / "nestr.yaml"
    server, ca = pki["server"], pki["ca"]
    config.write_text(
        "server:\n  listen: 127.0.0.1:0\n  tls:\n"
        f"    cert: {server.cert}\n    key: {server.key}\n    client_ca: {ca.cert}\n"
    )
    return config


def credentials(pki: dict[str, Pair], trust: str, client: str | None) -> grpc.ChannelCredentials:
    key, chain = pki[client].pem() if client else (None, None)
    return grpc.ssl_channel_credentials(
        pki[trust].cert.read_bytes(), private_key=key, certificate_chain=chain
    )


def handshakes(pki: dict[str, Pair], port: int) -> list[grpc.StatusCode]:
    """Head from a plaintext client, a TLS client without a certificate, one with a certificate
    of another CA, one trusting another CA, and a good client: the codes each got."""
    clients = [
        None,
        credentials(pki, "ca", None),
        credentials(pki, "ca", "stranger"),
        credentials(pki, "other", "client"),
        credentials(pki, "ca", "client"),
    ]

    async def call(creds: grpc.ChannelCredentials | None) -> grpc.StatusCode:
        target = f"127.0.0.1:{port}"
        channel = (
            aio.insecure_channel(target) if creds is None else aio.secure_channel(target, creds)
        )
        async with channel:
            try:
                await pb_grpc.EventServiceStub(channel).Head(pb.HeadRequest(), timeout=GUARD / 4)
            except aio.AioRpcError as error:
                return error.code()
            return grpc.StatusCode.OK

    async def main() -> list[grpc.StatusCode]:
        return [await call(creds) for creds in clients]

    return asyncio.run(main())


def run_clients(tmp_path: Path, pki: dict[str, Pair], **env: str) -> tuple[list[str], str]:
    """The codes the clients of :func:`handshakes` got from `nestr --log-format json serve`
    over mTLS, with the user's ``GRPC_*`` variables replaced by ``env``, and the server's
    stderr once stopped."""
    config = mtls_config(tmp_path, pki)
    user_grpc: dict[str, str | None] = {k: None for k in os.environ if k.startswith("GRPC_")}
    serving = nestr_serve(
        tmp_path / "state",
        "--config",
        str(config),
        env={**user_grpc, **env},
        json_logs=True,
        listen=None,
    )
    with serving as (server, address):
        codes = handshakes(pki, int(address.rsplit(":", 1)[1]))
        server.terminate()
        _, err = server.communicate(timeout=GUARD)
    return [code.name for code in codes], err


def test_failed_tls_handshakes_leave_only_json_lines_on_stderr(
    tmp_path: Path, pki: dict[str, Pair]
) -> None:
    """Four clients whose handshake fails and one that gets through: the server's stderr holds
    only JSON lines (the good call's log line among them), none of the core's own lines."""
    codes, err = run_clients(tmp_path, pki)
    assert codes == ["UNAVAILABLE"] * 4 + ["OK"]
    lines = err.splitlines()
    assert [json.loads(line)["method"] for line in lines if '"rpc"' in line] == [
        "/nestr.v1.EventService/Head"
    ]
    for line in lines:
        assert isinstance(json.loads(line), dict), line


def test_a_verbosity_the_user_sets_is_kept(tmp_path: Path, pki: dict[str, Pair]) -> None:
    """With GRPC_VERBOSITY=INFO set by the user, the core's handshake failures do show."""
    _, err = run_clients(tmp_path, pki, GRPC_VERBOSITY="INFO")
    assert "Handshake failed" in err


def test_the_servers_children_do_not_inherit_the_quiet_verbosity() -> None:
    """After import_grpc_quietly, grpc is imported and GRPC_VERBOSITY is not in the process's
    environment, so the steps it starts see the environment they were given."""
    script = (
        "import os, sys\n"
        "from nestr.server.corelog import import_grpc_quietly\n"
        "print(import_grpc_quietly(), 'grpc' in sys.modules, 'GRPC_VERBOSITY' in os.environ)\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "GRPC_VERBOSITY"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", "True", "False"]
