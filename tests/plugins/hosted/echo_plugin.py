"""A plugin written with the SDK, as a plugin author writes one; the tests start it as
``nestr-plugin-echo``. ``ECHO_STATE`` names a folder where steps leave marks for the tests."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from nestr.plugin import Plugin, StepCall, StepError

plugin = Plugin("echo", version="1.2.3")
SAY_SCHEMA = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string"}, "times": {"type": "integer"}},
    "additionalProperties": False,
}


@plugin.step("echo.say", schema=SAY_SCHEMA)
def say(call: StepCall) -> dict[str, str]:
    """Log the text (``times`` times) and return it as output ``said``."""
    for _ in range(int(call.with_.get("times", 1))):
        call.log(str(call.with_["text"]))
    call.progress(1, 1, "said", unit="texts")
    return {"said": str(call.with_["text"]), "pid": str(os.getpid()), "state_dir": call.state_dir}


@plugin.step("echo.noop")
def noop(call: StepCall) -> None:
    """Do nothing (the benchmark's step)."""


@plugin.step("echo.fail")
def fail(call: StepCall) -> None:
    """Fail with a message and an exit code."""
    raise StepError("told to fail", returncode=7)


@plugin.step("echo.crash")
def crash(call: StepCall) -> dict[str, str]:
    """Kill the plugin process on the first attempt; succeed on the next ones."""
    marks = Path(os.environ["ECHO_STATE"])
    (marks / f"attempt-{call.attempt}-pid").write_text(str(os.getpid()), encoding="utf-8")
    if call.attempt == 1:
        os._exit(9)
    return {"pid": str(os.getpid())}


@plugin.step("echo.stderr")
def stderr(call: StepCall) -> None:
    """Write to the process's own stderr, as a library inside a plugin would."""
    print("a line on the plugin's stderr", file=sys.stderr, flush=True)


@plugin.step("echo.wait")
async def wait(call: StepCall) -> None:
    """Wait until cancelled, leaving marks when it starts and when it is cancelled."""
    marks = Path(os.environ["ECHO_STATE"])
    (marks / "waiting").write_text(str(os.getpid()), encoding="utf-8")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        (marks / "cancelled").write_text("yes", encoding="utf-8")
        raise


if __name__ == "__main__":
    plugin.serve()
