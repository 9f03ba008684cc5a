"""The handshake between nestr (the host) and a plugin it starts: what each side tells the other.

The host starts the plugin with :data:`VERSIONS_ENV` (the protocol versions it speaks, e.g.
``1``) and :data:`SECRET_ENV` (a secret made for this launch) in its environment. The plugin
listens on a Unix socket (or a port of 127.0.0.1) and prints one line to stdout::

    nestr-plugin|1|unix|/tmp/nestr-plugin-x1y2/plugin.sock
    nestr-plugin|1|tcp|127.0.0.1:40123

naming the protocol version it chose, the network and the address; the host refuses a version it
does not speak. Every call the host makes carries the secret in the :data:`SECRET_METADATA`
metadata, and a plugin refuses a call without it (``UNAUTHENTICATED``), so no other local
process can drive it. The format follows HashiCorp go-plugin's handshake line.

A plugin named ``NAME`` also finds the ``NAME:`` section of nestr's config, when the config
has one, in :data:`SETTINGS_ENV` as a JSON object (secret values left out): a plugin reads no
config file of its own, and a changed setting reaches it when nestr next starts it.

Standard library only: the SDK and the host both import it.
"""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = "nestr-plugin"
PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)
VERSIONS_ENV = "NESTR_PLUGIN_PROTOCOL_VERSIONS"
SECRET_ENV = "NESTR_PLUGIN_SECRET"  # noqa: S105 - the variable's name, not a secret
TRANSPORT_ENV = "NESTR_PLUGIN_TRANSPORT"  # `unix` (default) or `tcp`
# the plugin's own section of nestr's config (`NAME:` for plugin NAME), as JSON, secrets left out
SETTINGS_ENV = "NESTR_PLUGIN_SETTINGS"
SECRET_METADATA = "x-nestr-plugin-secret"  # noqa: S105 - the metadata key's name
NETWORKS = ("unix", "tcp")


class HandshakeError(ValueError):
    """The plugin's first line is not a handshake nestr can use."""


@dataclass(frozen=True)
class Handshake:
    """What a plugin announces: the protocol version, the network and the address."""

    version: int
    network: str
    address: str

    def line(self) -> str:
        """The line a plugin prints (with its newline)."""
        return f"{MAGIC}|{self.version}|{self.network}|{self.address}\n"

    @property
    def target(self) -> str:
        """The gRPC target to dial: ``unix:/path`` or ``127.0.0.1:PORT``."""
        return f"unix:{self.address}" if self.network == "unix" else self.address


def parse(line: str) -> Handshake:
    """The handshake of ``line``; :class:`HandshakeError` saying what is wrong otherwise."""
    parts = line.strip().split("|")
    if len(parts) != 4 or parts[0] != MAGIC:
        raise HandshakeError(
            f"expected `{MAGIC}|VERSION|unix|/path` or `{MAGIC}|VERSION|tcp|127.0.0.1:PORT`,"
            f" got {line.strip()[:200]!r}"
        )
    _, version, network, address = parts
    if not version.isdigit():
        raise HandshakeError(f"the protocol version must be a number, got {version!r}")
    if network not in NETWORKS:
        raise HandshakeError(f"the network must be `unix` or `tcp`, got {network!r}")
    if network == "tcp" and not address.startswith("127.0.0.1:"):
        raise HandshakeError(f"a tcp plugin must listen on 127.0.0.1, got {address!r}")
    return Handshake(int(version), network, address)


def offered_versions(value: str | None) -> tuple[int, ...]:
    """The versions a host offers in :data:`VERSIONS_ENV` (``1`` when unset)."""
    if not value:
        return (PROTOCOL_VERSION,)
    return tuple(int(v) for v in value.split(",") if v.strip().isdigit())
