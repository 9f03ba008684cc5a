"""Hot reload of ``nestr serve``'s configuration: on SIGHUP, or when a config file changes.

The files are polled (their mtime, size and inode, every ``interval`` seconds): no watcher
dependency, and it works on every filesystem. A reload re-reads every layer and validates the
whole new config (:class:`nestr.config.live.LiveConfig`) before it is swapped in; then what can
change live does (:data:`LIVE_KEYS`: log level and format, the token, read by the auth
interceptor at the start of each call, so open streams go on; the stream limits, which new
streams start with and open ones take up; the event retention, read by ``nestr serve``'s pruner
at each prune), and every other changed key is logged as taking effect at the next restart. An
invalid config keeps the old one in force: the
located error is logged and published as ``nestr.server.config.rejected``; a good one as
``nestr.server.config.reloaded``. Events and log lines name keys, never values (some are secrets).
With the server's session, every reload leaves an audit record (``config.reload``): by the
caller of a ``Reload`` RPC, else by the server itself (SIGHUP, a changed file).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from nestr.config.live import LiveConfig, ReloadResult, stat_signature
from nestr.errors import ConfigError, InputError
from nestr.events.catalog import CONFIG_REJECTED, CONFIG_RELOADED, ConfigRejected, ConfigReloaded
from nestr.observability.logging import get_logger

if TYPE_CHECKING:
    from nestr.config.loaded import LoadedConfig
    from nestr.config.settings import LogSettings
    from nestr.events import EventBus
    from nestr.server.auth import TokenInterceptor
    from nestr.server.services.events import EventService
    from nestr.session import Session

Signature = tuple[tuple[int, int, int] | None, ...]
STREAM_KEYS = frozenset({"server.stream.heartbeat", "server.stream.queue", "server.stream.batch"})
LIVE_KEYS = frozenset({"log.level", "log.format", "server.token", *STREAM_KEYS})
LIVE_KEYS |= {f"events.retention.{name}" for name in ("max_age", "max_events", "interval")}
log = get_logger("nestr.server.reload")


class ConfigReloader:
    """Reloads ``live`` on SIGHUP and on file changes, and applies what can change live.

    ``listen``/``mtls`` are what the server was started with: a reload that would leave a
    non-loopback address without a token (nor mTLS) is refused like any invalid config.
    ``events``: the service whose stream limits ``server.stream.*`` set.
    """

    def __init__(
        self,
        live: LiveConfig,
        *,
        auth: TokenInterceptor,
        bus: EventBus,
        configure_log: Callable[[LogSettings], None],
        listen: str,
        mtls: bool = False,
        interval: float = 1.0,
        session: Session | None = None,
        events: EventService | None = None,
    ) -> None:
        self._live = live
        self._auth = auth
        self._events = events
        self._bus = bus
        self._configure_log = configure_log
        self._listen = listen
        self._mtls = mtls
        self._interval = interval
        self._session = session  # whose audit trail records reloads
        self._lock = asyncio.Lock()  # one reload at a time, in the order asked
        self._tasks: set[asyncio.Task[ReloadResult]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._signal = False

    def start(self) -> None:
        """Take the files' baseline, start polling them, and reload on SIGHUP (where the loop
        can handle signals); a change made after this returns is never missed."""
        paths = self._live.watched_files()
        self._poller = asyncio.create_task(self._poll(paths, stat_signature(paths)))
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
            self._signal = True

    async def stop(self) -> None:
        """Stop polling and listening for SIGHUP; wait for a reload in progress."""
        if self._signal:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _on_sighup(self) -> None:
        task = asyncio.create_task(self.reload("signal"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _poll(self, watched: list[Path], seen: Signature) -> None:
        while True:
            await asyncio.sleep(self._interval)
            now = stat_signature(watched)
            if now == seen:
                continue
            seen = now
            try:
                await self.reload("file")
            except Exception:  # a bug must not end the watching: log it, go on polling
                log.exception("config reload failed")
            again = self._live.watched_files()  # a token_file may have moved
            if again != watched:
                watched, seen = again, stat_signature(again)

    async def reload(self, trigger: str) -> ReloadResult:
        """Re-read the config (off the event loop), swap it in if valid, apply it, report it."""
        async with self._lock:
            result = await asyncio.to_thread(self._live.reload, check=self._check)
            if result.error is not None:
                self._reject(result.error, trigger)
            else:
                self._apply(result, trigger)
            self._audit(result, trigger)
            return result

    def _audit(self, result: ReloadResult, trigger: str) -> None:
        """One audit record of this reload: ``refused`` when the new config was invalid."""
        from nestr.server.acting import acting_session

        if self._session is None:
            return
        audit = acting_session(self._session).audited("config.reload", {"trigger": trigger})
        if result.error is not None:
            audit.refused(type(result.error).__name__)
        else:
            audit.ok(changed=sorted(result.changed))

    def _check(self, new: LoadedConfig) -> None:
        """Refuse a config that removes the token a non-loopback address needs."""
        from nestr.server.app import ServerConfigError, check_listen

        token = new.settings.server.token
        try:
            check_listen(self._listen, None if token is None else "set", mtls=self._mtls)
        except ServerConfigError as exc:
            origin = self._live.current.origins.get("server.token")
            raise ConfigError(
                exc.message,
                location=None if origin is None else origin.location,
                field="server.token",
                hint=exc.hint,
            ) from None

    def _apply(self, result: ReloadResult, trigger: str) -> None:
        settings = self._live.current.settings
        changed = sorted(result.changed)
        live = LIVE_KEYS if self._events is not None else LIVE_KEYS - STREAM_KEYS
        applied = [key for key in changed if key in live]
        restart = [key for key in changed if key not in live]
        if {"log.level", "log.format"} & set(changed):
            self._configure_log(settings.log)
        if "server.token" in changed:
            token = settings.server.token
            self._auth.token = None if token is None else token.get_secret_value()
        if STREAM_KEYS & set(changed) and self._events is not None:
            from nestr.server.services.events import StreamLimits

            self._events.apply_limits(StreamLimits.from_settings(settings.server.stream))
        if restart:
            log.warning("config change needs a restart to take effect", keys=restart)
        log.info("config reloaded", trigger=trigger, changed=changed, applied=applied)
        files = [str(path) for path in self._live.current.files]
        data = ConfigReloaded(
            trigger=trigger, files=files, changed=changed, applied=applied, restart=restart
        )
        self._bus.emit(CONFIG_RELOADED, data)

    def _reject(self, error: InputError, trigger: str) -> None:
        location = error.location
        log.error("config rejected, the old one stays", error=error.message, hint=error.hint)
        data = ConfigRejected(
            trigger=trigger,
            error=error.message,
            file=None if location is None or location.file is None else str(location.file),
            line=None if location is None else location.line,
            field=error.field,
            hint=error.hint,
        )
        self._bus.emit(CONFIG_REJECTED, data, severity="error")
