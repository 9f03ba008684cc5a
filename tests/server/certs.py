"""Certificates the TLS tests make with the `openssl` command: a CA, and leaves it signs."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Pair:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path

    def pem(self) -> tuple[bytes, bytes]:
        """(key, certificate chain) bytes, the order gRPC's credentials take them in."""
        return self.key.read_bytes(), self.cert.read_bytes()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def require_openssl() -> None:
    """Skip the calling test when the `openssl` command is not installed."""
    if shutil.which("openssl") is None:
        pytest.skip(
            "the `openssl` command is not installed: the TLS tests make certificates with it"
        )


def make_ca(folder: Path, name: str) -> Pair:
    """A self-signed CA named ``name`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    pair = Pair(folder / f"{name}.pem", folder / f"{name}.key")
    _openssl(
        "req", "-x509", *EC, "-keyout", pair.key.name, "-out", pair.cert.name, "-days", "2",
        "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    return pair


def make_leaf(ca: Pair, folder: Path, name: str) -> Pair:
    """A certificate for ``localhost``/127.0.0.1, signed by ``ca``, good for servers and clients."""
    pair = Pair(folder / f"{name}.pem", folder / f"{name}.key")
    csr, ext = folder / f"{name}.csr", folder / f"{name}.ext"
    ext.write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
    )
    _openssl("req", *EC, "-keyout", pair.key.name, "-out", csr.name, "-subj", f"/CN={name}",
             cwd=folder)  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr.name, "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAcreateserial", "-out", pair.cert.name, "-days", "2", "-extfile", ext.name,
        cwd=folder,
    )  # fmt: skip
    return pair


def make_pki(folder: Path) -> dict[str, Pair]:
    """A CA (``ca``) with a ``server`` and a ``client`` certificate, and another CA (``other``)
    with a client certificate (``stranger``), in ``folder``."""
    require_openssl()
    ca, other = make_ca(folder, "ca"), make_ca(folder, "other")
    return {
        "ca": ca,
        "other": other,
        "server": make_leaf(ca, folder, "server"),
        "client": make_leaf(ca, folder, "client"),
        "stranger": make_leaf(other, folder, "stranger"),
    }
