"""``run_step``: drive one step type through a whole attempt with a real context.

For step plugin authors and nestr's own built-ins: the step gets a real process runner (own
process group, SIGTERM then SIGKILL), a captured log, a real ``$NESTR_OUTPUT`` file, the
settings given (default: nestr's defaults) and an ``emit`` over a real event bus, and the
result says how it ended — ``succeeded``, ``failed``, ``timed_out`` or ``cancelled`` — with its
outputs, output text and the events it emitted::

    result = run_step_sync("shell", with_={"argv": ["echo", "hi"]}, cwd=tmp_path)
    assert result.status == "succeeded" and result.stdout == "hi\\n"
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nestr.config.settings import Settings
from nestr.errors import NestrError
from nestr.events.bus import EventBus
from nestr.events.envelope import Event
from nestr.manifest.model import RepoSpec
from nestr.workflow.capture import CapturedLog
from nestr.workflow.emitter import StepEmitter
from nestr.workflow.outputs import read_outputs
from nestr.workflow.process import GroupProcessRunner
from nestr.workflow.protocols import Step, StepContext, StepFailed
from nestr.workflow.registry import StepRegistry


@dataclass(frozen=True)
class StepRun:
    """How one driven attempt ended."""

    status: str  # succeeded | failed | timed_out | cancelled
    outputs: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    events: tuple[Event, ...] = ()  # what the step emitted, in order


RUN_ID = "test-run"  # the run id and step key a driven step's events carry
STEP_KEY = "step"


async def run_step(
    step: Step | str,
    *,
    cwd: Path,
    with_: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    repo: RepoSpec | None = None,
    repo_dir: Path | None = None,
    root: Path | None = None,
    manifest_path: Path | None = None,
    state_dir: Path | None = None,
    timeout: float | None = None,
    cancel: asyncio.Event | None = None,
    grace: float = 1.0,
    registry: StepRegistry | None = None,
    settings: Settings | None = None,
) -> StepRun:
    """Run ``step`` (an instance, or a registered type name) once and report how it ended.

    ``timeout`` ends it like the executor does (the run is ``timed_out``); setting ``cancel``
    cancels it mid-flight (``cancelled``). ``grace`` is the SIGTERM → SIGKILL delay.
    ``settings`` is what the step reads as ``ctx.settings`` (default: nestr's defaults).
    """
    instance = (registry or StepRegistry()).get(step)() if isinstance(step, str) else step
    with tempfile.TemporaryDirectory(prefix="nestr-step-") as scratch:
        output_path = Path(scratch) / "output"
        output_path.touch()
        log = CapturedLog()
        events: list[Event] = []
        bus = EventBus()
        bus.add_listener(events.append)
        ctx = StepContext(
            run_id=RUN_ID,
            step_id=STEP_KEY,
            key=STEP_KEY,
            attempt=1,
            root=root or cwd,
            cwd=cwd,
            output_path=output_path,
            log=log,
            processes=GroupProcessRunner(grace),
            settings=settings if settings is not None else Settings(),
            emit=StepEmitter(bus, RUN_ID, STEP_KEY, repo.name if repo else None),
            with_=dict(with_ or {}),
            env={**os.environ, **(env or {}), "NESTR_OUTPUT": str(output_path)},
            repo=repo,
            repo_dir=repo_dir,
            manifest_path=manifest_path,
            state_dir=state_dir,
        )
        status, outputs, error, code = await _drive(instance, ctx, timeout, cancel)
        stdout, stderr = log.text("stdout"), log.text("stderr")
        return StepRun(status, outputs, error, code, stdout, stderr, tuple(events))


async def _drive(
    step: Step, ctx: StepContext, timeout: float | None, cancel: asyncio.Event | None
) -> tuple[str, dict[str, str], str | None, int | None]:
    task = asyncio.create_task(_attempt(step, ctx, timeout))
    if cancel is not None:
        waiter = asyncio.create_task(cancel.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not task.done():
            task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        return "cancelled", {}, "cancelled", None


async def _attempt(
    step: Step, ctx: StepContext, timeout: float | None
) -> tuple[str, dict[str, str], str | None, int | None]:
    try:
        async with asyncio.timeout(timeout):
            returned = await step.run(ctx)
        outputs = {**read_outputs(ctx.output_path), **dict(returned or {})}
    except TimeoutError:
        return "timed_out", {}, f"timed out after {timeout:g}s", None
    except StepFailed as exc:
        return "failed", {}, exc.message, exc.returncode
    except NestrError as exc:
        return "failed", {}, exc.message, None
    return "succeeded", outputs, None, 0


def run_step_sync(step: Step | str, **kwargs: Any) -> StepRun:
    """:func:`run_step` for tests that are not async."""
    return asyncio.run(run_step(step, **kwargs))
