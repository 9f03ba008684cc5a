"""A client that cannot complete the TLS handshake prints nestr's two lines only: the error,
naming the TLS verdict, and the hint; nothing of gRPC's C core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.server.certs import make_ca, make_leaf, require_openssl

from nestr.client.errors import socket_reason

from .conftest import GUARD, serve


def test_an_untrusted_server_certificate_is_one_error_line_and_a_hint(tmp_path: Path) -> None:
    """`nestr --server` trusting another CA exits 1 with `TLS handshake failed:
    CERTIFICATE_VERIFY_FAILED …` and the hint, and gRPC's core prints no line of its own."""
    require_openssl()
    pki = tmp_path / "pki"
    ca, other = make_ca(pki, "ca"), make_ca(pki, "other")
    pair = make_leaf(ca, pki, "server")
    project = tmp_path / "project"
    project.mkdir()
    (project / "nestr.yaml").write_text("version: 1\nrepos: []\n", encoding="utf-8")
    running = serve(
        project, NESTR_SERVER__TLS__CERT=str(pair.cert), NESTR_SERVER__TLS__KEY=str(pair.key)
    )
    try:
        address = running.address.replace("127.0.0.1", "localhost")
        env = {**os.environ, "NESTR_SERVER__TLS__CA": str(other.cert)}
        env.pop("GRPC_VERBOSITY", None)
        done = subprocess.run(
            [sys.executable, "-m", "nestr", "--server", address, "runs", "list"],
            env=env,
            capture_output=True,
            text=True,
            timeout=GUARD,
            check=False,
        )
    finally:
        running.stop()
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith(f"error: cannot reach the nestr server at {address} (TLS handshake")
    assert "CERTIFICATE_VERIFY_FAILED" in lines[0]
    assert lines[1].startswith("hint: ")


def test_socket_reason_reads_grpc_details() -> None:
    """The reason is the TLS verdict of a failed handshake, else the socket's last words."""
    tls = (
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Tls "
        "handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000007d:SSL routines:"
        "OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate: OK"
    )
    assert socket_reason(tls) == (
        "TLS handshake failed: CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate"
    )
    refused = "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:9: "
    assert socket_reason(refused + "Connection refused") == "Connection refused"
