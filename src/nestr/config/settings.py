"""The settings nestr runs with, as plain frozen values every part of nestr reads.

``nestr.config.model`` validates user input into these (pydantic, at the boundary only); this
module imports neither pydantic nor YAML, so a command whose configuration comes from the input
cache (``nestr.config.cache``) never loads either. The meaning of each key is documented on the
boundary model and in ``docs/configuration.md``; a test keeps the two in step.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

from nestr.redaction import hold_secret

LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LogFormat = Literal["auto", "console", "json"]
ExecutorName = Literal["local", "temporal"]
OtlpProtocol = Literal["grpc", "http/protobuf"]

SECRET_KEYS: frozenset[str] = frozenset({"server.token", "otel.headers"})
"""Dotted keys holding secrets: never printed, settable as ``<key>_file`` or via a secrets dir."""

TLS_KEYS = (
    "server.tls.cert",
    "server.tls.key",
    "server.tls.client_ca",
    "server.tls.ca",
    "server.tls.client_cert",
    "server.tls.client_key",
)
PATH_KEYS = frozenset({"cache_dir", "state_dir", "git.ssh_key_file", *TLS_KEYS, "obsidian.vault"})
"""Keys holding paths: relative values in a file are relative to that file."""

SECRET_PATH_KEYS: frozenset[str] = frozenset({"server.tls.key", "server.tls.client_key"})
"""Keys holding the path of a private key: shown masked, and errors name the key and where it
was set instead of the path (a path like ``/etc/ssl/private/host.pem`` says where a key lives)."""

# `git.credentials` is a mapping of entries named by the user: `git.credentials.<name>.<field>`.
# A name is lower case (an environment variable's name loses its case) without a double
# underscore (which nests in `NESTR_GIT__CREDENTIALS__<NAME>__TOKEN`).
CREDENTIALS_KEY = "git.credentials"
CREDENTIAL_FIELDS = ("host", "username", "protocol", "token")
CREDENTIAL_NAME = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


def credential_key(dotted: str) -> tuple[str, str] | None:
    """``(name, field)`` of a ``git.credentials.<name>.<field>`` key (field may be empty)."""
    name, sep, rest = dotted.removeprefix(CREDENTIALS_KEY + ".").partition(".")
    if not dotted.startswith(CREDENTIALS_KEY + ".") or "." in rest:
        return None
    if sep and rest not in CREDENTIAL_FIELDS:
        return None
    return name, rest


# `webhooks` is a mapping of endpoints named by the user as credentials are:
# `webhooks.<name>.<field>`; `secret` holds one or more `whsec_` secrets (rotation).
WEBHOOKS_KEY = "webhooks"
WEBHOOK_FIELDS = ("url", "secret", "types", "timeout", "max_attempts", "backoff", "backoff_max")


def webhook_key(dotted: str) -> tuple[str, str] | None:
    """``(name, field)`` of a ``webhooks.<name>.<field>`` key (field may be empty)."""
    name, sep, rest = dotted.removeprefix(WEBHOOKS_KEY + ".").partition(".")
    if not dotted.startswith(WEBHOOKS_KEY + ".") or "." in rest:
        return None
    if sep and rest not in WEBHOOK_FIELDS:
        return None
    return name, rest


# `plugins` is a mapping of step plugins named by the user: `plugins.<name>.command`.
PLUGINS_KEY = "plugins"
PLUGIN_FIELDS = ("command",)
PLUGIN_NAME = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")


def plugin_key(dotted: str) -> tuple[str, str] | None:
    """``(name, field)`` of a ``plugins.<name>.<field>`` key (field may be empty)."""
    name, sep, rest = dotted.removeprefix(PLUGINS_KEY + ".").partition(".")
    if not dotted.startswith(PLUGINS_KEY + ".") or "." in rest:
        return None
    if sep and rest not in PLUGIN_FIELDS:
        return None
    return name, rest


def is_secret_key(dotted: str) -> bool:
    """True for a key whose value is a secret (``server.token``, ``git.credentials.*.token``,
    ``webhooks.*.secret``)."""
    found = credential_key(dotted)
    hook = webhook_key(dotted)
    return (
        dotted in SECRET_KEYS
        or (found is not None and found[1] == "token")
        or (hook is not None and hook[1] == "secret")
    )


def is_known_key(dotted: str) -> bool:
    """True for a key that exists: a fixed one or a field of a named credential, webhook or
    plugin."""
    if dotted in LEAF_KEYS or dotted in SECTION_KEYS:
        return True
    if credential_key(dotted) is not None or webhook_key(dotted) is not None:
        return True
    found = plugin_key(dotted)
    return found is not None and found[1] != ""


_MASK = "**********"


class Secret:
    """A secret string that never shows its value in ``repr``, ``str``, logs or tracebacks.

    Immutable and compared by value, like the dataclasses around it (written out by hand: one
    dataclass less to build when the settings module is imported on every command).
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)
        hold_secret(value)  # whatever text a crash log quotes, this value is hidden in it

    def get_secret_value(self) -> str:
        """The secret itself (the same call as pydantic's ``SecretStr``)."""
        return self._value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Secret cannot be changed")

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return Secret, (self._value,)  # copy and pickle must not go through __setattr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.get_secret_value() == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK


def _xdg(var: str, fallback: str) -> Path:
    base = os.environ.get(var) or str(Path.home() / fallback)
    return Path(base) / "nestr"


@dataclass(frozen=True)
class LogSettings:
    """How nestr logs."""

    level: LogLevel = "info"
    format: LogFormat = "auto"


@dataclass(frozen=True)
class GitCredential:
    """An HTTPS token for one host (``git.credentials.<name>``), handed to git by nestr."""

    name: str
    host: str
    token: Secret
    username: str = "x-access-token"
    protocol: Literal["https", "http"] = "https"


@dataclass(frozen=True)
class PluginCommand:
    """A step plugin of the ``plugins:`` setting: its name and the command that starts it."""

    name: str
    command: tuple[str, ...]


@dataclass(frozen=True)
class GitSettings:
    """Limits for the git commands nestr runs, and the credentials it hands them."""

    credentials: tuple[GitCredential, ...] = ()
    ssh_key_file: Path | None = None
    timeout: float = 600.0
    fetch_freshness: float = 60.0
    write_clones: bool | Literal["auto"] = "auto"


@dataclass(frozen=True)
class TlsSettings:
    """The server's certificate and key (TLS), and the CA client certificates need (mTLS)."""

    cert: Path | None = None
    key: Path | None = None
    client_ca: Path | None = None
    ca: Path | None = None  # client side: the CA the server's certificate must be signed by
    client_cert: Path | None = None  # client side: presented to the server (mTLS)
    client_key: Path | None = None


@dataclass(frozen=True)
class StreamSettings:
    """How each event stream of the server behaves: heartbeat period (seconds), how many events
    a subscriber may fall behind, how many go in one message."""

    heartbeat: float = 5.0
    queue: int = 10_000
    batch: int = 500


@dataclass(frozen=True)
class ServerSettings:
    """Where the gRPC server listens, the token clients present, its TLS files, and whether
    it resumes interrupted runs when it starts."""

    listen: str = "127.0.0.1:7433"
    address: str | None = None  # client side: where `nestr --server` commands go
    token: Secret | None = None
    tls: TlsSettings = field(default_factory=TlsSettings)
    resume_interrupted: bool = True
    drain_grace: float = 5.0  # seconds calls in flight get to finish when the server stops
    stream: StreamSettings = field(default_factory=StreamSettings)


@dataclass(frozen=True)
class WebhookEndpoint:
    """An HTTP endpoint events are delivered to (``webhooks.<name>``), signed with each secret
    of ``secret`` (more than one while a secret is rotated)."""

    name: str
    url: str
    secret: tuple[Secret, ...]
    types: tuple[str, ...] = ()  # type prefixes delivered; empty: every type
    timeout: float = 10.0
    max_attempts: int = 10
    backoff: float = 1.0
    backoff_max: float = 600.0


@dataclass(frozen=True)
class MetricsSettings:
    """The Prometheus endpoint."""

    listen: str | None = None


@dataclass(frozen=True)
class OtelSettings:
    """Where traces go (tracing is off while ``endpoint`` is unset), how, and as which
    service; ``headers`` (``key=value,...``, a secret) go with every export."""

    endpoint: str | None = None
    protocol: OtlpProtocol = "grpc"
    service_name: str = "nestr"
    headers: Secret | None = None


@dataclass(frozen=True)
class TemporalSettings:
    """The Temporal cluster workflows run on."""

    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = "nestr"
    heartbeat_timeout: float = 30.0  # a step's worker silent this long is taken as dead
    inline_outputs: int = 65536  # bytes of a step's outputs carried in history, the rest stored


@dataclass(frozen=True)
class RetentionSettings:
    """How much of the event log is kept: events older than ``max_age`` seconds and all but
    the newest ``max_events`` are pruned (None: no limit); ``nestr serve`` prunes every
    ``interval`` seconds."""

    max_age: float | None = None
    max_events: int | None = None
    interval: float = 3600.0


@dataclass(frozen=True)
class EventsSettings:
    """The durable event log."""

    retention: RetentionSettings = field(default_factory=RetentionSettings)


@dataclass(frozen=True)
class ObsidianSettings:
    """The Obsidian vault run notes go to (``nestr obsidian watch``, ``obsidian.note``)."""

    vault: Path | None = None
    folder: str = "nestr"  # run notes in FOLDER/runs, repo notes in FOLDER/repos
    daily_folder: str = ""  # where the daily notes are ("" = the vault's root)
    recent_runs: int = 20  # runs a repo's note lists


@dataclass(frozen=True)
class Settings:
    """Every setting nestr knows. Mappings nest: ``log.level`` is ``Settings.log.level``."""

    cache_dir: Path = field(default_factory=lambda: _xdg("XDG_CACHE_HOME", ".cache"))
    state_dir: Path = field(default_factory=lambda: _xdg("XDG_STATE_HOME", ".local/state"))
    jobs: int = 8
    executor: ExecutorName = "local"
    log: LogSettings = field(default_factory=LogSettings)
    git: GitSettings = field(default_factory=GitSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    otel: OtelSettings = field(default_factory=OtelSettings)
    temporal: TemporalSettings = field(default_factory=TemporalSettings)
    events: EventsSettings = field(default_factory=EventsSettings)
    webhooks: tuple[WebhookEndpoint, ...] = ()
    obsidian: ObsidianSettings = field(default_factory=ObsidianSettings)
    plugins: tuple[PluginCommand, ...] = ()


def _section_type(cls: type[Any], name: str) -> type[Any] | None:
    """The dataclass a field of ``cls`` nests (its default factory), or None for a leaf."""
    factory: Any = next(f.default_factory for f in fields(cls) if f.name == name)
    return factory if isinstance(factory, type) and is_dataclass(factory) else None


def known_keys(cls: type[Any] = Settings, prefix: str = "") -> dict[str, bool]:
    """Dotted keys of the settings, each mapped to whether it is a section."""
    keys: dict[str, bool] = {}
    for f in fields(cls):
        dotted = prefix + f.name
        section = _section_type(cls, f.name)
        keys[dotted] = section is not None
        if section is not None:
            keys.update(known_keys(section, dotted + "."))
    return keys


LEAF_KEYS = frozenset(k for k, section in known_keys().items() if not section)
SECTION_KEYS = frozenset(k for k, section in known_keys().items() if section)


def settings_from_dict(data: Mapping[str, Any]) -> Settings:
    """Settings from nested plain values (already validated): paths and secrets get their types.

    Every key must be present (KeyError otherwise): a partial mapping is a damaged input, not a
    request for defaults.
    """
    built: Settings = _build(Settings, data, "")
    return built


def _build(cls: type[Any], data: Mapping[str, Any], prefix: str) -> Any:
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        dotted, value = prefix + f.name, data[f.name]
        section = _section_type(cls, f.name)
        if section is not None:
            value = _build(section, value, dotted + ".")
        elif dotted == CREDENTIALS_KEY:
            value = _credentials(value)
        elif dotted == WEBHOOKS_KEY:
            value = _webhooks(value)
        elif dotted == PLUGINS_KEY:
            value = tuple(
                PluginCommand(name, tuple(entry["command"]))
                for name, entry in sorted(value.items())
            )
        elif dotted in PATH_KEYS and value is not None:
            value = Path(value)
        elif dotted in SECRET_KEYS and isinstance(value, str):
            value = Secret(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """Nested JSON-ready values of ``settings``; refuses to write out a secret."""
    return _plain(settings, "")


def _plain(value: Any, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(value):
        dotted, item = prefix + f.name, getattr(value, f.name)
        if isinstance(item, Secret) or (dotted in (CREDENTIALS_KEY, WEBHOOKS_KEY) and item):
            raise ValueError(f"{dotted} holds a secret and is never written out")
        if is_dataclass(item):
            out[f.name] = _plain(item, dotted + ".")
        elif dotted in (CREDENTIALS_KEY, WEBHOOKS_KEY):
            out[f.name] = {}
        elif dotted == PLUGINS_KEY:
            out[f.name] = {entry.name: {"command": list(entry.command)} for entry in item}
        else:
            out[f.name] = str(item) if isinstance(item, Path) else item
    return out


def _credentials(data: Mapping[str, Mapping[str, Any]]) -> tuple[GitCredential, ...]:
    entries = []
    for name, entry in sorted(data.items()):
        token = entry["token"]
        secret = token if isinstance(token, Secret) else Secret(token)
        fields_ = {k: entry[k] for k in ("host", "username", "protocol")}
        entries.append(GitCredential(name=name, token=secret, **fields_))
    return tuple(entries)


def _webhooks(data: Mapping[str, Mapping[str, Any]]) -> tuple[WebhookEndpoint, ...]:
    entries = []
    for name, entry in sorted(data.items()):
        secrets = tuple(s if isinstance(s, Secret) else Secret(s) for s in entry["secret"])
        rest = {k: entry[k] for k in WEBHOOK_FIELDS if k not in ("secret", "types")}
        entries.append(
            WebhookEndpoint(name=name, secret=secrets, types=tuple(entry["types"]), **rest)
        )
    return tuple(entries)
