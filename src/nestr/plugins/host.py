"""The plugin host: finds plugins, starts each lazily, reuses it, restarts it after a crash.

A plugin named ``NAME`` offers step types ``NAME`` and ``NAME.*`` (``uses: echo.say`` is plugin
``echo``'s), so a workflow step starts only the plugin its type names. Plugins are found, first
match wins, in the ``plugins:`` setting (a command per name), the ``nestr.plugins`` entry-point
group (a callable, run as ``python -m nestr.plugin NAME``) and ``nestr-plugin-NAME`` executables
on ``PATH``. The host is the :class:`~nestr.workflow.protocols.StepProvider` of the session's
step registry; :meth:`PluginHost.close` stops every plugin it started.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from nestr.errors import did_you_mean
from nestr.plugins.launch import Launch, PluginError, PluginProcess
from nestr.plugins.sections import section_env
from nestr.workflow.protocols import StepFactory, WithProblem

ENTRY_POINT_GROUP = "nestr.plugins"
EXECUTABLE_PREFIX = "nestr-plugin-"
CALL_TIMEOUT = 30.0  # seconds for Describe, Validate and Cancel


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
    ) -> None:
        self._given = dict(launches) if launches is not None else None
        self._configured = configured
        self._launches: dict[str, Launch] | None = None
        self._cwd = cwd or Path.cwd()
        self._settings = settings  # each plugin gets its section (plugins/sections.py)
        self._running: dict[str, PluginProcess] = {}
        self._types: dict[str, dict[str, Any]] = {}  # plugin -> step type -> its description
        self._failed: dict[str, PluginError] = {}  # plugin -> why it did not start
        self._lock = threading.Lock()
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
            if running is not None:
                running.stop(0)
            env = section_env(self._settings, plugin)
            running = PluginProcess(launch, cwd=self._cwd, env=env)
            self.starts += 1
            self._running[plugin] = running
            try:
                self._types[plugin] = _described(running)
            except PluginError:
                self._running.pop(plugin).stop(0)
                raise
            return running

    def running(self, plugin: str) -> PluginProcess | None:
        """The process of ``plugin`` if it is running now (the warm path of a step)."""
        found = self._running.get(plugin)
        return found if found is not None and found.alive else None

    def close(self) -> None:
        """Stop every plugin this host started (SIGTERM, then SIGKILL)."""
        with self._lock:
            running, self._running = list(self._running.values()), {}
        for process in running:
            process.stop()


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
