"""What every command gets from the root command: global options, lazily loaded config."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from nestr.cli.surface import Nestr
    from nestr.config.layers import LayerInputs
    from nestr.config.loader import LoadedConfig
    from nestr.config.settings import LogSettings
    from nestr.session import Session


# Commands that serve for long: each call they serve is traced, not the command.
UNTRACED_COMMANDS = frozenset({"serve"})


@dataclass
class AppContext:
    """Global options, and the config and logging they lead to (built on first use)."""

    cwd: Path
    config_files: tuple[Path, ...] = ()
    env_name: str | None = None
    sets: tuple[str, ...] = ()
    log_level: str | None = None
    log_format: str | None = None
    debug: bool = False
    server: str | None = None  # --server ADDR
    started_ns: int = field(default_factory=time.time_ns)  # the start of a traced command's span
    _config: LoadedConfig | None = field(default=None, repr=False)
    _session: Session | None = field(default=None, repr=False)
    _face: Nestr | None = field(default=None, repr=False)

    def config(self) -> LoadedConfig:
        """Load (once) and validate every config layer; configures logging as a side effect."""
        if self._config is None:
            from nestr.config.loader import load_config

            self._config = load_config(self.layer_inputs())
            self._setup_logging()
            self._setup_git_credentials()
            self._setup_tracing()
        return self._config

    def layer_inputs(self) -> LayerInputs:
        """What decides which config layers load (a reload reads the same ones again)."""
        from nestr.config.layers import LayerInputs

        flags = {
            "log.level": (self.log_level, "flag --log-level"),
            "log.format": (self.log_format, "flag --log-format"),
            "server.address": (self.server, "flag --server"),
        }
        return LayerInputs(
            cwd=self.cwd,
            environ=dict(os.environ),
            config_files=self.config_files,
            env_name=self.env_name,
            sets=self.sets,
            flag_values=flags,
        )

    def configure_logging(self, log: LogSettings) -> None:
        """Set up logging from ``log`` (``--debug`` wins over the configured level)."""
        from nestr.observability.logging import configure_logging

        configure_logging("debug" if self.debug else log.level, log.format)

    def _setup_logging(self) -> None:
        assert self._config is not None
        self.configure_logging(self._config.settings.log)

    def _setup_tracing(self) -> None:
        """With ``otel.endpoint`` set, trace the rest of the command: its span (``nestr
        run``), started when the command was, ends with the root context (``nestr serve``
        has none: each call it serves is an action of its own)."""
        assert self._config is not None
        otel = self._config.settings.otel
        current = click.get_current_context(silent=True)
        if otel.endpoint is None or current is None:
            return
        from nestr.watchers.tracing import start_tracing

        tracing = start_tracing(otel)
        root = current.find_root()
        root.with_resource(tracing)
        if root.invoked_subcommand not in UNTRACED_COMMANDS:
            from nestr.observability.context import current_correlation_id

            attributes = {"nestr.correlation_id": current_correlation_id() or ""}
            tracing.begin(current.command_path, start_time=self.started_ns, **attributes)

    def _setup_git_credentials(self) -> None:
        from nestr.session.environment import use_git_credentials

        assert self._config is not None
        use_git_credentials(self._config)


def app(ctx: click.Context) -> AppContext:
    """The :class:`AppContext` of the running command."""
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext)
    return obj


def session(ctx: click.Context) -> Nestr:
    """The session the running command works with: a remote one when ``--server`` (or
    ``server.address``) names a server, else the local :class:`~nestr.session.Session`.
    Either is built once and closed when the command ends."""
    context = app(ctx)
    if context._face is None:
        address = context.config().settings.server.address
        if address:
            context._face = _remote(context, address)
        else:
            context._face = local_session(ctx)
    return context._face


def _remote(context: AppContext, address: str) -> Nestr:
    from nestr.client.remote import RemoteSession

    def notice(text: str) -> None:
        click.echo(text, err=True)

    return RemoteSession(context.config().settings, address=address, notice=notice)


def local_session(ctx: click.Context, *, only_here: bool = False) -> Session:
    """The :class:`~nestr.session.Session` of the running command, on this machine: built once
    from the config and the working directory, closed when the command ends.

    ``only_here``: the command has no ``--server`` form, and a server address set by the flag
    or the config is refused (exit 2) rather than silently ignored.
    """
    context = app(ctx)
    if only_here:
        refuse_remote(ctx)
    if context._session is None:
        from nestr.session import Session
        from nestr.session.audit import Actor

        config, cwd = context.config(), context.cwd
        context._session = Session.from_config(config, cwd=cwd, actor=Actor.local("cli"))
        ctx.find_root().call_on_close(context._session.close)
    return context._session


def refuse_remote(ctx: click.Context) -> None:
    """Raise a usage error when a server address is set: the command runs here only."""
    config = app(ctx).config()
    if not config.settings.server.address:
        return
    from nestr.errors import UsageError

    where = config.origins["server.address"]
    name = ctx.command_path.replace("nestr ", "", 1) if ctx.command_path else "this command"
    raise UsageError(
        f"`nestr {name}` works on this machine only and has no --server form "
        f"(server.address is set by {where})",
        hint="run it without --server (or unset server.address), on the server's machine",
    )
