"""The settings nestr runs with: what each key means, its type and its default.

Config says how nestr runs on this machine; the manifest says what a workspace is. This module is
the boundary model (pydantic) that validates the merged layers; :func:`to_settings` turns the
result into the frozen values of ``nestr.config.settings`` that the rest of nestr reads (a test
keeps keys and defaults of the two in step). See ``nestr.config.layers`` for where values come
from and ``docs/configuration.md`` for the user-facing reference.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
)

from nestr.config import settings as values
from nestr.config.settings import SECRET_KEYS, ExecutorName, LogFormat, LogLevel, OtlpProtocol

__all__ = ["SECRET_KEYS", "Settings", "to_settings"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _xdg(var: str, fallback: str) -> Path:
    base = os.environ.get(var) or str(Path.home() / fallback)
    return Path(base) / "nestr"


class LogSettings(_Section):
    level: LogLevel = Field("info", description="Lowest level that is logged.")
    format: LogFormat = Field(
        "auto", description="console for people, json for machines (progress too); auto: console."
    )


# Seconds settings are finite and at most a year: `inf`, `.inf` or `1e400` would pass `gt=0` and
# then break every git command (a timeout is turned into an int deadline).
_MAX_SECONDS = 365 * 86400


# host or host:port, as git names it to a credential helper; an IPv6 address in brackets.
_HOST = re.compile(r"([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")
# What git's credential protocol can carry: one line, no NUL.
_LINE = r"^[^\x00-\x1f\x7f]+$"


def _host(host: str) -> str:
    if not _HOST.fullmatch(host):
        raise ValueError("expected a host name or host:port, like github.com or git.local:8443")
    return host.lower()


class GitCredentialSettings(_Section):
    host: Annotated[str, AfterValidator(_host)] = Field(
        description="Host (host:port) that gets the token."
    )
    username: str = Field("x-access-token", pattern=_LINE, description="User name sent.")
    protocol: Literal["https", "http"] = Field("https", description="Scheme the token is for.")
    token: SecretStr = Field(description="The token (secret; better as token_file).")

    @field_validator("token")
    @classmethod
    def _one_line(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value() or not value.get_secret_value().isprintable():
            raise ValueError("a token is one line of printable characters")
        return value


def _credential_name(name: str) -> str:
    if not values.CREDENTIAL_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a credential name: use a-z, 0-9 and single _")
    return name


def _expanduser(path: Path | None) -> Path | None:
    return None if path is None else path.expanduser()


class GitSettings(_Section):
    credentials: dict[Annotated[str, AfterValidator(_credential_name)], GitCredentialSettings] = (
        Field(default_factory=dict, description="HTTPS tokens by name: host, username, token.")
    )
    ssh_key_file: Annotated[Path | None, AfterValidator(_expanduser)] = Field(
        None, description="Private key git's ssh uses (-i, IdentitiesOnly=yes)."
    )
    timeout: float = Field(
        600.0,
        gt=0,
        le=_MAX_SECONDS,
        allow_inf_nan=False,
        description="Seconds before a single git command is killed.",
    )
    fetch_freshness: float = Field(
        60.0,
        ge=0,
        le=_MAX_SECONDS,
        allow_inf_nan=False,
        description="Seconds a mirror counts as fresh: no fetch within this window.",
    )
    write_clones: bool | Literal["auto"] = Field(
        "auto",
        description="Whether nestr writes git's files itself (faster clones): true, false, or "
        "auto (only on git versions its differential test covered; else git clone --shared).",
    )

    @field_validator("write_clones", mode="before")
    @classmethod
    def _switch(cls, value: object) -> object:
        """One message for any other value (rather than one per member of the union)."""
        words = {"auto": "auto", "true": True, "false": False, "yes": True, "no": False}
        if isinstance(value, str) and value.strip().lower() in words:
            return words[value.strip().lower()]
        if isinstance(value, bool) or value == "auto":
            return value
        raise ValueError("expected true, false or auto")


_OptionalPath = Annotated[Path | None, AfterValidator(_expanduser)]


class TlsSettings(_Section):
    cert: _OptionalPath = Field(None, description="Server certificate chain (PEM); TLS if set.")
    key: _OptionalPath = Field(None, description="Private key of the certificate (PEM).")
    client_ca: _OptionalPath = Field(
        None, description="CA (PEM) client certificates must be signed by (mTLS)."
    )
    ca: _OptionalPath = Field(
        None, description="Client side: CA (PEM) to trust for the server's certificate; TLS if set."
    )
    client_cert: _OptionalPath = Field(
        None, description="Client side: certificate chain (PEM) to present (mTLS)."
    )
    client_key: _OptionalPath = Field(
        None, description="Client side: private key of server.tls.client_cert (PEM)."
    )


class StreamSettings(_Section):
    heartbeat: float = Field(
        5.0,
        ge=0.1,
        le=3600,
        allow_inf_nan=False,
        description="Seconds an idle event stream waits before it sends a heartbeat.",
    )
    queue: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Events a subscriber may fall behind before its stream ends "
        "(RESOURCE_EXHAUSTED, with the seq to resume after).",
    )
    batch: int = Field(
        500, ge=1, le=10_000, description="Most events in one EventBatch message of a stream."
    )


class ServerSettings(_Section):
    listen: str = Field("127.0.0.1:7433", description="host:port the gRPC server listens on.")
    address: str | None = Field(
        None, description="Client side: host:port of the server commands are sent to."
    )
    token: SecretStr | None = Field(None, description="Bearer token clients must present.")
    tls: TlsSettings = Field(default_factory=TlsSettings)
    resume_interrupted: bool = Field(
        True, description="On start, resume the runs of this host whose process died."
    )
    drain_grace: float = Field(
        5.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        description="Seconds calls in flight get to finish when the server stops (SIGTERM).",
    )
    stream: StreamSettings = Field(default_factory=StreamSettings)


def _words(value: object) -> object:
    """A string of several values (an environment variable, a secret file) → its words."""
    return value.split() if isinstance(value, str) else value


def _webhook_name(name: str) -> str:
    if not values.CREDENTIAL_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a webhook name: use a-z, 0-9 and single _")
    return name


_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _webhook_secret(value: SecretStr) -> SecretStr:
    # Standard Webhooks: `whsec_` + base64 of the key; the message never quotes the value
    body = value.get_secret_value().removeprefix("whsec_")
    if not value.get_secret_value().startswith("whsec_") or not _BASE64.fullmatch(body):
        raise ValueError("a webhook secret is whsec_ followed by base64 (Standard Webhooks)")
    return value


def _webhook_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    return url


def _type_prefix(prefix: str) -> str:
    if not prefix or not prefix.isprintable() or " " in prefix:
        raise ValueError("a type prefix is one word, like nestr.workflow.run.")
    return prefix


_Seconds = Annotated[float, Field(gt=0, le=_MAX_SECONDS, allow_inf_nan=False)]


class WebhookSettings(_Section):
    url: Annotated[str, AfterValidator(_webhook_url)] = Field(
        description="http(s) URL events are POSTed to."
    )
    secret: Annotated[
        list[Annotated[SecretStr, AfterValidator(_webhook_secret)]],
        BeforeValidator(_words),
        Field(min_length=1),
    ] = Field(description="whsec_ secret(s) signing each delivery (secret; better secret_file).")
    types: Annotated[
        list[Annotated[str, AfterValidator(_type_prefix)]], BeforeValidator(_words)
    ] = Field(default_factory=list, description="Event type prefixes delivered; all if empty.")
    timeout: _Seconds = Field(10.0, description="Seconds a delivery may take.")
    max_attempts: int = Field(10, ge=1, le=1000, description="Tries before a delivery fails.")
    backoff: _Seconds = Field(1.0, description="Seconds before the first retry (then doubled).")
    backoff_max: _Seconds = Field(600.0, description="Longest wait between two tries.")


class MetricsSettings(_Section):
    listen: str | None = Field(
        None, description="host:port for the Prometheus endpoint; off if unset."
    )


class OtelSettings(_Section):
    endpoint: str | None = Field(None, description="OTLP endpoint for traces; off if unset.")
    protocol: OtlpProtocol = Field("grpc", description="OTLP over grpc or http/protobuf.")
    service_name: str = Field("nestr", min_length=1, description="service.name of the spans.")
    headers: SecretStr | None = Field(
        None, description="Export headers as key=value,key=value (secret; e.g. an API key)."
    )

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL, e.g. http://127.0.0.1:4317")
        return value


class ObsidianSettings(_Section):
    vault: _OptionalPath = Field(None, description="The Obsidian vault run notes go to.")
    folder: str = Field("nestr", description="Vault folder of run notes (runs/) and repo notes.")
    daily_folder: str = Field("", description="Vault folder of the daily notes (root if empty).")
    recent_runs: int = Field(20, ge=1, le=1000, description="Runs a repo's note lists.")


class TemporalSettings(_Section):
    address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    namespace: str = Field("default", description="Temporal namespace.")
    task_queue: str = Field("nestr", description="Default task queue for nestr workers.")
    heartbeat_timeout: float = Field(
        30.0, gt=0, description="Seconds of silence after which a step's worker is taken as dead."
    )
    inline_outputs: int = Field(
        65536,
        ge=0,
        le=1_000_000,
        description="Bytes of a step's outputs that travel in Temporal history; larger ones"
        " stay in the worker's store, referenced.",
    )


# A duration in the grammar of nestr.workflow.durations (which this layer may not import):
# <number><unit> parts, "30d", "1h30m", "250ms"; a number (also as text, since environment
# variables are text) is seconds.
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def _duration(value: object) -> object:
    """Seconds of a duration such as ``30d`` or ``1h30m``; numbers are left to the number
    check (bounds, finiteness) of the field."""
    if not isinstance(value, str) or _number(value):
        return value
    text = value.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError("expected a duration such as 30d, 12h or 1h30m (ms, s, m, h, d, w)")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class RetentionSettings(_Section):
    max_age: Annotated[float | None, BeforeValidator(_duration)] = Field(
        None,
        gt=0,
        le=_MAX_SECONDS,
        allow_inf_nan=False,
        description="Prune events older than this (30d, 12h, or seconds); unset: keep all.",
    )
    max_events: int | None = Field(
        None, ge=1, description="Keep at most this many newest events; unset: no limit."
    )
    interval: Annotated[float, BeforeValidator(_duration)] = Field(
        3600.0,
        gt=0,
        le=_MAX_SECONDS,
        allow_inf_nan=False,
        description="How often nestr serve prunes the event log (1h, 10m, or seconds).",
    )


class EventsSettings(_Section):
    retention: RetentionSettings = Field(default_factory=RetentionSettings)


def _plugin_name(name: str) -> str:
    if not values.PLUGIN_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a plugin name: use a-z, 0-9 and single - or _")
    return name


def _argv(value: object) -> object:
    """A command as a list of arguments, or one string split as a shell splits it."""
    return shlex.split(value) if isinstance(value, str) else value


class PluginSettings(_Section):
    command: Annotated[list[str], BeforeValidator(_argv)] = Field(
        min_length=1,
        description="The command that starts the plugin: a list, or a string split like a shell.",
    )


class Settings(_Section):
    """Every setting nestr knows. Mappings nest: ``log.level`` is ``Settings.log.level``."""

    cache_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_CACHE_HOME", ".cache"),
        description="Where mirrors live (default $XDG_CACHE_HOME/nestr).",
    )
    state_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_STATE_HOME", ".local/state"),
        description="Runs, events and ephemeral workspaces (default $XDG_STATE_HOME/nestr).",
    )
    jobs: int = Field(8, ge=1, le=256, description="Parallel jobs for work across repos.")
    executor: ExecutorName = Field(
        "local",
        description="What runs workflows: local (asyncio in the nestr process) or temporal"
        " (the Temporal cluster of temporal.address, on `nestr worker`s).",
    )
    log: LogSettings = Field(default_factory=LogSettings)
    git: GitSettings = Field(default_factory=GitSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    otel: OtelSettings = Field(default_factory=OtelSettings)
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    events: EventsSettings = Field(default_factory=EventsSettings)
    webhooks: dict[Annotated[str, AfterValidator(_webhook_name)], WebhookSettings] = Field(
        default_factory=dict, description="Webhook endpoints by name: url, secret, types."
    )
    obsidian: ObsidianSettings = Field(default_factory=ObsidianSettings)
    plugins: dict[Annotated[str, AfterValidator(_plugin_name)], PluginSettings] = Field(
        default_factory=dict, description="Step plugins by name: the command that starts each."
    )

    @field_validator("cache_dir", "state_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()


def to_settings(model: Settings) -> values.Settings:
    """The frozen domain value of a validated model."""
    data = model.model_dump()
    token = data["server"]["token"]
    data["server"]["token"] = None if token is None else values.Secret(token.get_secret_value())
    headers = data["otel"]["headers"]
    data["otel"]["headers"] = None if headers is None else values.Secret(headers.get_secret_value())
    for entry in data["git"]["credentials"].values():
        entry["token"] = values.Secret(entry["token"].get_secret_value())
    for entry in data["webhooks"].values():
        entry["secret"] = [values.Secret(s.get_secret_value()) for s in entry["secret"]]
    return values.settings_from_dict(data)
