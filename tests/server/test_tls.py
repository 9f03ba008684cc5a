"""TLS and mTLS for the gRPC server, over real channels on 127.0.0.1 with certificates the tests
make with `openssl`; and `nestr serve` reading `server.tls.*` from a config file."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from nestr.config.settings import TlsSettings
from nestr.errors import ConfigError
from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.server.app import ServerConfigError, start
from nestr.server.tls import ServerTls, server_tls

from .certs import Pair
from .conftest import GUARD, fill, make_session
from .processes import nestr_serve, start_serve

Call = Callable[[aio.Channel], Awaitable[Any]]
CONFIG = ("--config", "conf/nestr.yaml")  # relative to the working directory, tmp_path
GARBAGE = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"


def tls_of(pki: dict[str, Pair], *, mutual: bool) -> ServerTls:
    server = pki["server"]
    ca = pki["ca"].cert if mutual else None
    built = server_tls(TlsSettings(cert=server.cert, key=server.key, client_ca=ca))
    assert built is not None
    assert built.mutual is mutual
    return built


def client_credentials(pki: dict[str, Pair], client: str | None) -> grpc.ChannelCredentials:
    """Credentials trusting the test CA, presenting ``client``'s certificate (None: none)."""
    key, chain = pki[client].pem() if client else (None, None)
    return grpc.ssl_channel_credentials(
        pki["ca"].cert.read_bytes(), private_key=key, certificate_chain=chain
    )


async def head(channel: aio.Channel) -> int:
    response = await pb_grpc.EventServiceStub(channel).Head(pb.HeadRequest(), timeout=GUARD)
    return int(response.head_seq)


async def health_status(channel: aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    response = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=GUARD)
    return int(response.status)


def over(
    state: Path, tls: ServerTls, channels: list[Callable[[int], aio.Channel]], call: Call
) -> list[Any]:
    """Serve ``state`` with ``tls`` on 127.0.0.1; ``call`` through each channel: its result, or
    the status code it failed with."""

    async def main() -> list[Any]:
        session = make_session(state)
        server = await start(session, listen="127.0.0.1:0", token=None, tls=tls)
        results: list[Any] = []
        try:
            for make in channels:
                async with make(server.port) as channel:
                    try:
                        results.append(await call(channel))
                    except aio.AioRpcError as error:
                        results.append(error.code())
        finally:
            await server.stop(0)
            session.close()
        return results

    return asyncio.run(main())


def secure(pki: dict[str, Pair], client: str | None = None) -> Callable[[int], aio.Channel]:
    return lambda port: aio.secure_channel(f"127.0.0.1:{port}", client_credentials(pki, client))


def plaintext(port: int) -> aio.Channel:
    return aio.insecure_channel(f"127.0.0.1:{port}")


def test_tls_client_with_the_ca_reaches_events_and_health_and_plaintext_fails(
    tmp_path: Path, pki: dict[str, Pair]
) -> None:
    """With server.tls.cert/key a client trusting the CA gets Head and health SERVING, while a
    plaintext client cannot call at all (the port speaks only TLS)."""
    fill(tmp_path, 4)
    tls = tls_of(pki, mutual=False)
    assert over(tmp_path, tls, [secure(pki), plaintext], head) == [4, grpc.StatusCode.UNAVAILABLE]
    serving = health_pb2.HealthCheckResponse.SERVING
    assert over(tmp_path, tls, [secure(pki)], health_status) == [serving]


def test_mtls_admits_only_clients_with_a_certificate_from_the_client_ca(
    tmp_path: Path, pki: dict[str, Pair]
) -> None:
    """With server.tls.client_ca a client without a certificate, or with one another CA signed,
    is refused at the handshake; one with a certificate the client CA signed gets through."""
    fill(tmp_path, 2)
    channels = [secure(pki), secure(pki, "stranger"), secure(pki, "client")]
    refused = grpc.StatusCode.UNAVAILABLE
    assert over(tmp_path, tls_of(pki, mutual=True), channels, head) == [refused, refused, 2]


def test_a_public_address_without_a_token_needs_mtls(tmp_path: Path, pki: dict[str, Pair]) -> None:
    """Listening on 0.0.0.0 without a token starts with mTLS (client certificates authenticate),
    and is refused with TLS alone (anyone could call)."""

    async def main() -> int:
        session = make_session(tmp_path)
        with pytest.raises(ServerConfigError, match="not a loopback address"):
            await start(session, listen="0.0.0.0:0", token=None, tls=tls_of(pki, mutual=False))
        server = await start(session, listen="0.0.0.0:0", token=None, tls=tls_of(pki, mutual=True))
        try:
            async with secure(pki, "client")(server.port) as channel:
                return await head(channel)
        finally:
            await server.stop(0)
            session.close()

    assert asyncio.run(main()) == 0


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"key": "k.pem"}, "server.tls.key is set but server.tls.cert is not"),
        ({"cert": "c.pem"}, "server.tls.cert is set but server.tls.key is not"),
        ({"client_ca": "ca.pem"}, "server.tls.client_ca is set but server.tls.cert is not"),
    ],
)
def test_incomplete_tls_settings_are_refused(
    tmp_path: Path, given: dict[str, str], message: str
) -> None:
    """A key without a certificate, a certificate without a key, or a client CA alone is a
    configuration error naming what is missing (not a silent plaintext server)."""
    with pytest.raises(ConfigError, match=message):
        server_tls(TlsSettings(**{k: tmp_path / v for k, v in given.items()}))


@pytest.mark.parametrize(
    ("setting", "source", "message"),
    [
        ("cert", "server.key", "server.tls.cert: the file .* holds no valid PEM certificate"),
        ("cert", "garbage", "server.tls.cert: the file .* holds no valid PEM certificate"),
        ("client_ca", "garbage", "server.tls.client_ca: the file .* holds no valid PEM cert"),
        ("key", "server.pem", "server.tls.key: the file holds no valid PEM private key$"),
        ("key", "client.key", "server.tls.key: the key does not match server.tls.cert$"),
        ("key", "encrypted", "server.tls.key: the key is encrypted; gRPC needs an unencrypted"),
    ],
)
def test_malformed_tls_files_are_refused_naming_the_setting(
    tmp_path: Path, pki: dict[str, Pair], setting: str, source: str, message: str
) -> None:
    """A file that is no certificate, no key, a key of another certificate or an encrypted key
    is refused before gRPC sees it (gRPC would only say it cannot listen), naming the setting;
    the key's path is not in the message."""
    files = {p.name: p for pair in pki.values() for p in (pair.cert, pair.key)}
    files["garbage"] = tmp_path / "garbage.pem"
    files["garbage"].write_text(GARBAGE)
    files["encrypted"] = tmp_path / "encrypted.key"
    encrypt = ["pkey", "-in", str(pki["server"].key), "-aes256", "-passout", "pass:x"]
    subprocess.run(
        ["openssl", *encrypt, "-out", str(files["encrypted"])], check=True, capture_output=True
    )
    chosen = {"cert": pki["server"].cert, "key": pki["server"].key, "client_ca": pki["ca"].cert}
    chosen[setting] = files[source]
    with pytest.raises(ConfigError, match=message) as refused:
        server_tls(TlsSettings(**chosen), {})
    assert setting != "key" or str(files[source]) not in str(refused.value)


def write_tls_config(pki: dict[str, Pair], folder: Path, **override: str) -> None:
    """Write ``folder/conf/nestr.yaml`` setting server.tls.* to copies of the test files in
    ``folder/conf/tls``, as paths relative to the config file (not to the working directory)."""
    folder = folder / "conf"
    (folder / "tls").mkdir(parents=True)
    names = {"cert": pki["server"].cert, "key": pki["server"].key, "client_ca": pki["ca"].cert}
    for path in names.values():
        (folder / "tls" / path.name).write_bytes(path.read_bytes())
    lines = [f"    {k}: {override.get(k, f'tls/{p.name}')}" for k, p in names.items()]
    (folder / "nestr.yaml").write_text(
        "server:\n  listen: 127.0.0.1:0\n  tls:\n" + "\n".join(lines) + "\n"
    )


def test_serve_reads_tls_files_relative_to_the_config_file(
    tmp_path: Path, pki: dict[str, Pair]
) -> None:
    """`nestr serve` with server.tls.* given relative to its config file serves mTLS: a client
    with a good certificate gets Head; `config show` masks the key's path."""
    write_tls_config(pki, tmp_path)
    serving = nestr_serve(tmp_path / "state", *CONFIG, cwd=tmp_path, listen=None)
    with serving as (server, address):

        async def call() -> int:
            port = int(address.rsplit(":", 1)[1])
            async with secure(pki, "client")(port) as channel:
                return await head(channel)

        assert asyncio.run(call()) == 0
        server.terminate()
        server.communicate(timeout=GUARD)
    shown = subprocess.run(
        [sys.executable, "-m", "nestr", *CONFIG, "config", "show", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=True,
    )
    settings = json.loads(shown.stdout)["settings"]
    assert settings["server.tls.cert"] == str(tmp_path / "conf" / "tls" / "server.pem")
    assert settings["server.tls.key"] == "********"
    assert "server.key" not in shown.stdout


@pytest.mark.parametrize(
    ("key", "line", "shows_path"),
    [("cert", 4, True), ("key", 5, False), ("client_ca", 6, True)],
)
def test_serve_exits_2_naming_a_tls_file_it_cannot_read(
    tmp_path: Path, pki: dict[str, Pair], key: str, line: int, shows_path: bool
) -> None:
    """A missing server.tls.* file stops `nestr serve` with exit 2, naming the setting and the
    config file line that set it, before listening; the key's path is never printed."""
    write_tls_config(pki, tmp_path, **{key: "tls/missing.pem"})
    server = start_serve(tmp_path / "state", *CONFIG, cwd=tmp_path, listen=None)
    out, err = server.communicate(timeout=GUARD)
    assert server.returncode == 2, err
    assert f"conf/nestr.yaml:{line}:" in err, err
    assert f"server.tls.{key}: " in err
    assert "does not exist" in err
    assert "hint:" in err
    assert ("missing.pem" in err) is shows_path
    assert "listening" not in out
