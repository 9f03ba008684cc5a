"""The settings nestr runs with: what each key means, its type and its default.

Config says how nestr runs on this machine; the manifest says what a workspace is. This module is
the boundary model (pydantic) that validates the merged layers; :func:`to_settings` turns the
result into the frozen values of ``nestr.config.settings`` that the rest of nestr reads (a test
keeps keys and defaults of the two in step). See ``nestr.config.layers`` for where values come
from and ``docs/configuration.md`` for the user-facing reference.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from nestr.config import settings as values
from nestr.config.settings import SECRET_KEYS, ExecutorName, LogFormat, LogLevel

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


class GitSettings(_Section):
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


class ServerSettings(_Section):
    listen: str = Field("127.0.0.1:7433", description="host:port the gRPC server listens on.")
    token: SecretStr | None = Field(None, description="Bearer token clients must present.")


class MetricsSettings(_Section):
    listen: str | None = Field(
        None, description="host:port for the Prometheus endpoint; off if unset."
    )


class OtelSettings(_Section):
    endpoint: str | None = Field(None, description="OTLP endpoint for traces; off if unset.")


class TemporalSettings(_Section):
    address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    namespace: str = Field("default", description="Temporal namespace.")
    task_queue: str = Field("nestr", description="Default task queue for nestr workers.")


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
        "local", description="What runs workflows: local (asyncio in the nestr process)."
    )
    log: LogSettings = Field(default_factory=LogSettings)
    git: GitSettings = Field(default_factory=GitSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    otel: OtelSettings = Field(default_factory=OtelSettings)
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)

    @field_validator("cache_dir", "state_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()


def to_settings(model: Settings) -> values.Settings:
    """The frozen domain value of a validated model."""
    data = model.model_dump()
    token = data["server"]["token"]
    data["server"]["token"] = None if token is None else values.Secret(token.get_secret_value())
    return values.settings_from_dict(data)
