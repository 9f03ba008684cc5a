"""The plugin host: finds plugins, starts each lazily, reuses it, restarts it after a crash.

A plugin named ``NAME`` offers step types ``NAME`` and ``NAME.*`` (``uses: echo.say`` is plugin
``echo``'s), so a workflow step starts only the plugin its type names. Plugins are found, first
match wins, in the ``plugins:`` setting (a command per name), the ``nestr.plugins`` entry-point
group (a callable, run as ``python -m nestr.plugin NAME``) and ``nestr-plugin-NAME`` executables
on ``PATH``. The host is the :class:`~nestr.workflow.protocols.StepProvider` of the session's
step registry; :meth:`PluginHost.close` stops every plugin it started. Given an ``emit``, it
reports each plugin's start (``nestr.plugin.started``, with the seconds it took), stop
(``nestr.plugin.exited``), death while in use (``nestr.plugin.crashed``, once per process)
and, in batches, the calls its steps made (``nestr.plugin.calls``, :mod:`nestr.plugins.calls`).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from nestr.errors import did_you_mean
from nestr.events.catalog import (
    PLUGIN_CALLS,
    PLUGIN_CRASHED,
    PLUGIN_EXITED,
    PLUGIN_STARTED,
    EventType,
    PluginEnded,
    PluginStarted,
)
from nestr.plugins.calls import CallTally
from nestr.plugins.launch import Launch, PluginError, PluginProcess
from nestr.plugins.sections import section_env
from nestr.workflow.protocols import StepFactory, WithProblem

ENTRY_POINT_GROUP = "nestr.plugins"
EXECUTABLE_PREFIX = "nestr-plugin-"
CALL_TIMEOUT = 30.0  # seconds for Describe, Validate and Cancel

# publishes a lifecycle event (the session's `bus.emit`; called from any thread)
Emit = Callable[[EventType[Any], Any], object]


def plugin_of(step_type: str) -> str:
    """The plugin a step type belongs to: the part before its first dot."""
    return step_type.split(".", 1)[0]


def discover(configured: Mapping[str, Sequence[str]] | None = None) -> dict[str, Launch]:
    """Every plugin found, by name: configured ones, then entry points, then ``PATH``."""
    found: dict[str, Launch] = {}
    for directory in reversed(os.environ.get("PATH", "").split(os.pathsep)):
        if directory and Path(directory).is_dir():
            found.update(_on_path(Path(directory)))
    for point in entry_points(group=ENTRY_POINT_GROUP):
        argv = (sys.executable, "-m", "nestr.plugin", point.name)
        found[point.name] = Launch(point.name, argv, f"entry point {ENTRY_POINT_GROUP}")
    for name, command in (configured or {}).items():
        found[name] = Launch(name, tuple(command), "the plugins: setting")
    return found


def _on_path(directory: Path) -> dict[str, Launch]:
    found = {}
    try:
        entries = list(directory.iterdir())
    except OSError:
        return {}
    for path in entries:
        name = path.name.removeprefix(EXECUTABLE_PREFIX)
        if path.name.startswith(EXECUTABLE_PREFIX) and name and os.access(path, os.X_OK):
            found[name] = Launch(name, (str(path),), "PATH")
    return found


class PluginHost:
    """Plugin processes by name, started on first use (see the module docstring)."""

    def __init__(
        self,
        launches: Mapping[str, Launch] | None = None,
        *,
        configured: Mapping[str, Sequence[str]] | None = None,
        cwd: Path | None = None,
        settings: object | None = None,
        emit: Emit | None = None,
    ) -> None:
        self._given = dict(launches) if launches is not None else None
        self._configured = configured
        self._launches: dict[str, Launch] | None = None
        self._cwd = cwd or Path.cwd()
        self._settings = settings  # each plugin gets its section (plugins/sections.py)
        self._emit = emit
        self.calls = CallTally(lambda data: self._publish(PLUGIN_CALLS, data))
        self._crashes: set[int] = set()  # pids whose death was reported
        self._running: dict[str, PluginProcess] = {}
        self._types: dict[str, dict[str, Any]] = {}  # plugin -> step type -> its description
        self._failed: dict[str, PluginError] = {}  # plugin -> why it did not start
        self._lock = threading.Lock()
        self._crash_lock = threading.Lock()
        self.starts = 0  # processes started, restarts included

    @property
    def launches(self) -> dict[str, Launch]:
        if self._launches is None:
            self._launches = self._given if self._given is not None else discover(self._configured)
        return self._launches

    # --- StepProvider -----------------------------------------------------------------------

    def offers(self, name: str) -> bool:
        plugin = plugin_of(name)
        return plugin in self.launches and name in self.step_types(plugin)

    def factory(self, name: str) -> StepFactory:
        from nestr.plugins.step import PluginStep

        return lambda: PluginStep(self, name)

    def check(self, name: str, with_: Mapping[str, Any]) -> Sequence[WithProblem]:
        """The plugin's ``Validate`` of one step's ``with:``; asked once per distinct ``with:``
        of a type while the plugin runs (Validate is a function of the two: a generated
        workflow of a thousand alike steps costs one call)."""
        from nestr.plugin._proto import plugin_pb2 as pb
        from nestr.plugins.step import to_struct

        running = self.process(plugin_of(name))
        key = (name, json.dumps(with_, sort_keys=True, default=str))
        found = running.validated.get(key)
        if found is None:
            stub = _blocking_stub(running)
            request = pb.ValidateRequest(step_type=name, **{"with": to_struct(with_)})
            reply = stub.Validate(request, metadata=running.metadata, timeout=CALL_TIMEOUT)
            found = running.validated[key] = [(tuple(p.path), p.message) for p in reply.problems]
        return found

    # --- processes --------------------------------------------------------------------------

    def step_types(self, plugin: str) -> dict[str, Any]:
        """The step types ``plugin`` offers (its ``Describe``, asked once per start). A plugin
        that failed to start is not started again for this (a workflow's steps all ask): the
        same error is raised; running a step still tries."""
        if plugin in self._failed:
            raise self._failed[plugin]
        if plugin not in self._types:
            try:
                self.process(plugin)
            except PluginError as exc:
                self._failed[plugin] = exc
                raise
        return self._types.get(plugin, {})

    def process(self, plugin: str) -> PluginProcess:
        """The running process of ``plugin``: started now if it is not running (or died)."""
        with self._lock:
            running = self._running.get(plugin)
            if running is not None and running.alive:
                return running
            launch = self.launches.get(plugin)
            if launch is None:
                hint = did_you_mean(plugin, sorted(self.launches)) or "see `nestr plugin list`"
                raise PluginError(f"no plugin named {plugin!r}", hint=hint)
            restart = running is not None
            if running is not None:
                self.crashed(running, running.describe_exit())
                running.stop(0)
            began = time.monotonic()
            env = section_env(self._settings, plugin)
            running = PluginProcess(launch, cwd=self._cwd, env=env)
            self.starts += 1
            self._running[plugin] = running
            try:
                self._types[plugin] = _described(running)
            except PluginError:
                self._running.pop(plugin).stop(0)
                raise
            seconds = time.monotonic() - began
            self._publish(
                PLUGIN_STARTED, PluginStarted(plugin=plugin, seconds=seconds, restart=restart)
            )
            return running

    def running(self, plugin: str) -> PluginProcess | None:
        """The process of ``plugin`` if it is running now (the warm path of a step)."""
        found = self._running.get(plugin)
        return found if found is not None and found.alive else None

    def crashed(self, running: PluginProcess, reason: str) -> None:
        """Report once that ``running`` died while in use (a ``nestr.plugin.crashed`` event)."""
        pid = running.process.pid
        with self._crash_lock:
            if pid in self._crashes:
                return
            self._crashes.add(pid)
        code = running.process.returncode
        data = PluginEnded(plugin=running.launch.name, exit_code=code, reason=reason)
        self._publish(PLUGIN_CRASHED, data)

    def close(self) -> None:
        """Stop every plugin this host started (SIGTERM, then SIGKILL)."""
        self.calls.flush()
        with self._lock:
            running, self._running = list(self._running.values()), {}
        for process in running:
            if not process.alive:
                self.crashed(process, process.describe_exit())
                process.stop(0)
                continue
            process.stop()
            code = process.process.returncode
            data = PluginEnded(plugin=process.launch.name, exit_code=code, reason="stopped")
            self._publish(PLUGIN_EXITED, data)

    def _publish(self, kind: EventType[Any], data: Any) -> None:
        if self._emit is not None:
            self._emit(kind, data)


def _blocking_stub(running: PluginProcess) -> Any:
    from nestr.plugin._proto import plugin_pb2_grpc as pb_grpc

    return pb_grpc.StepPluginStub(running.blocking_channel())  # type: ignore[no-untyped-call]


def _described(running: PluginProcess) -> dict[str, Any]:
    """The step types of ``running``'s ``Describe``; a clear error if it cannot answer."""
    import grpc

    from nestr.plugin._proto import plugin_pb2 as pb

    name = running.launch.name
    try:
        reply = _blocking_stub(running).Describe(
            pb.DescribeRequest(), metadata=running.metadata, timeout=CALL_TIMEOUT
        )
    except grpc.RpcError as exc:
        raise PluginError(
            f"plugin {name}: Describe failed: {exc.code().name}: {exc.details()}"
        ) from None
    wrong = [t.name for t in reply.step_types if plugin_of(t.name) != name]
    if wrong:
        raise PluginError(
            f"plugin {name} offers step types of another plugin: {', '.join(wrong)}",
            hint=f"a plugin named {name} offers `{name}` and `{name}.*` step types",
        )
    return {t.name: t for t in reply.step_types}
