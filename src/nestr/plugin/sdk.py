"""A step plugin in a few lines: decorate a function with :meth:`Plugin.step`, call ``serve()``.

::

    from nestr.plugin import Plugin, StepCall

    plugin = Plugin("echo", version="1.0.0")

    @plugin.step("echo.say", schema={"type": "object", "required": ["text"]})
    def say(call: StepCall) -> dict[str, str]:
        call.log(call.with_["text"])
        return {"said": call.with_["text"]}

    if __name__ == "__main__":
        plugin.serve()

``serve()`` does the plugin's side of the protocol (:mod:`nestr.plugin.handshake`): it listens
on a Unix socket, prints the handshake line, checks the launch secret on every call, answers
``Describe``, ``Validate`` (against the step's schema, then its own ``validate`` function),
``Execute`` and ``Cancel``, serves ``grpc.health.v1``, and stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nestr.plugin import handshake
from nestr.plugin.call import StepCall

Outputs = Mapping[str, Any] | None
StepFunction = Callable[[StepCall], Outputs | Awaitable[Outputs]]
Validator = Callable[[dict[str, Any]], list[tuple[tuple[str, ...], str]]]
F = TypeVar("F", bound=StepFunction)


@dataclass(frozen=True)
class StepSpec:
    """One step type a plugin offers: its function, the schema of its ``with:`` and checks."""

    name: str
    function: StepFunction
    description: str = ""
    schema: Mapping[str, Any] | None = None
    validate: Validator | None = None

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)


@dataclass
class Plugin:
    """A plugin: its name (its step types are ``NAME`` or ``NAME.*``), version and steps."""

    name: str
    version: str = "0"
    steps: dict[str, StepSpec] = field(default_factory=dict)

    def step(
        self,
        name: str,
        *,
        schema: Mapping[str, Any] | None = None,
        description: str | None = None,
        validate: Validator | None = None,
    ) -> Callable[[F], F]:
        """Register the decorated function as step type ``name``.

        The function takes a :class:`StepCall` and returns outputs (a mapping) or None, or
        raises :class:`~nestr.plugin.call.StepError` to fail. ``schema``: the JSON Schema of
        the step's ``with:`` (published by ``Describe`` and checked by ``Validate``);
        ``validate``: more checks, returning ``(path, message)`` problems.
        """
        if name != self.name and not name.startswith(self.name + "."):
            raise ValueError(
                f"step type {name!r} of plugin {self.name!r} must start with {self.name}."
            )

        def register(function: F) -> F:
            text = description if description is not None else (inspect.getdoc(function) or "")
            self.steps[name] = StepSpec(name, function, text.split("\n")[0], schema, validate)
            return function

        return register

    def serve(self) -> None:
        """Serve until nestr stops the plugin (SIGTERM); the process's main function."""
        from nestr.plugin.server import run

        asyncio.run(run(self))


def settings() -> dict[str, Any]:
    """The plugin's section of nestr's config (``NAME:`` for plugin ``NAME``) as nestr passed it
    at the start (:data:`~nestr.plugin.handshake.SETTINGS_ENV`); empty when there is none."""
    text = os.environ.get(handshake.SETTINGS_ENV, "")
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


_DEFAULT: Plugin | None = None


def step(name: str, **options: Any) -> Callable[[F], F]:
    """:meth:`Plugin.step` on the module's plugin, named after the first step type's prefix."""
    global _DEFAULT  # noqa: PLW0603 - the one plugin of a script that uses the shortcuts
    if _DEFAULT is None:
        _DEFAULT = Plugin(name.split(".", 1)[0])
    return _DEFAULT.step(name, **options)


def serve(version: str | None = None) -> None:
    """Serve the steps registered with :func:`step` (see :meth:`Plugin.serve`)."""
    if _DEFAULT is None:
        raise RuntimeError("no step registered: decorate a function with nestr.plugin.step first")
    if version is not None:
        _DEFAULT.version = version
    _DEFAULT.serve()
