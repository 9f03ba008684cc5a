"""What a plugin's step function is given (:class:`StepCall`) and raises to fail
(:class:`StepError`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nestr.plugin._proto import plugin_pb2 as pb

Send = Callable[[pb.ExecuteResponse], None]


class StepError(Exception):
    """Raised by a step function to fail the step with ``message`` (and an exit code to record)."""

    def __init__(self, message: str, *, returncode: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.returncode = returncode


@dataclass
class StepCall:
    """One attempt of a step, as the plugin sees it: its ``with:``, where it runs, and the
    means to report (``log``, ``progress``, ``output``), each streamed to nestr at once.

    A function running in a thread (a plain ``def``) checks :attr:`cancelled` now and then; an
    ``async def`` one is cancelled as a task (``asyncio.CancelledError``).
    """

    step_type: str
    with_: dict[str, Any]
    run_id: str = ""
    step_key: str = ""
    attempt: int = 1
    cwd: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    repo: str = ""
    state_dir: str = ""  # the run's store, for a plugin that reads earlier steps (read-only)
    _send: Send = field(default=lambda _: None, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def log(self, text: str, *, stream: str = "stdout") -> None:
        """Write ``text`` to the step's log (a newline is added when missing)."""
        chunk = pb.LogChunk(
            stream=pb.STREAM_STDERR if stream == "stderr" else pb.STREAM_STDOUT,
            text=text if text.endswith("\n") else text + "\n",
        )
        self._send(pb.ExecuteResponse(log=chunk))

    def progress(
        self, done: float, total: float = 0.0, message: str = "", *, unit: str = ""
    ) -> None:
        """Report how far the step got (``total`` 0: unknown; ``unit``: what is counted);
        nestr publishes it as a ``nestr.workflow.step.progress`` event."""
        step = pb.Progress(done=done, total=total, message=message, unit=unit)
        self._send(pb.ExecuteResponse(progress=step))

    def output(self, name: str, value: Any) -> None:
        """Set output ``name`` now (returned outputs are set when the function returns)."""
        self._send(pb.ExecuteResponse(output=pb.Output(name=name, value=output_text(value))))

    @property
    def cancelled(self) -> bool:
        """True once nestr asked this attempt to stop."""
        return self._cancel.is_set()


def output_text(value: Any) -> str:
    """An output's text: strings as they are, booleans as ``true``/``false``, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)
