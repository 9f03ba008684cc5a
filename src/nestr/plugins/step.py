"""A step whose work a plugin process does: one ``Execute`` call per attempt.

Log chunks go to the step's log as they arrive, progress becomes a
``nestr.workflow.step.progress`` event, outputs become the step's outputs; the result ends the
attempt. A plugin that dies mid-call fails only this attempt (which retries per the step's
policy); the next attempt starts it again. A cancel (Ctrl-C, a timeout, ``nestr runs cancel``)
calls ``Cancel`` and ends the stream. Each attempt is counted (plugin, step type, outcome, the
call's wall time) in the host's :class:`~nestr.plugins.calls.CallTally`, published in batches
as ``nestr.plugin.calls`` events, which the metrics watcher counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nestr.events.catalog import STEP_PROGRESS, StepProgress
from nestr.plugins.host import CALL_TIMEOUT, plugin_of
from nestr.plugins.launch import PluginError, PluginProcess
from nestr.workflow.protocols import Outputs, StepContext, StepFailed

if TYPE_CHECKING:
    from nestr.plugins.host import PluginHost

CRASH_WAIT = 2.0  # seconds to see a plugin's exit after its stream broke
_OUTCOMES = {1: "succeeded", 2: "failed", 3: "cancelled"}  # a Result's status, as an outcome


def to_struct(value: Mapping[str, Any]) -> Any:
    """A ``google.protobuf.Struct`` of a ``with:`` mapping (values JSON-like)."""
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update(_json_like(dict(value)))
    return struct


def _json_like(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_like(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_like(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class PluginStep:
    """One attempt of step type ``name``, executed by its plugin."""

    def __init__(self, host: PluginHost, name: str) -> None:
        self.host = host
        self.name = name

    async def run(self, ctx: StepContext) -> Outputs | None:
        plugin = plugin_of(self.name)
        running = self.host.running(plugin)
        if running is None:  # cold: start it off the loop (a handshake takes a while)
            try:
                running = await asyncio.to_thread(self.host.process, plugin)
            except PluginError as exc:
                raise StepFailed(exc.message) from None
        outcome = ["error"]  # how the call ended, set where it is known
        began = time.perf_counter()
        try:
            with running.routed(ctx.log):
                try:
                    outputs = await _execute(running, self.name, ctx, outcome)
                except StepFailed:
                    await running.settle()
                    raise
                await running.settle()
                return outputs
        except asyncio.CancelledError:
            outcome[0] = "cancelled"
            raise
        finally:
            seconds = time.perf_counter() - began
            if outcome[0] == "crashed":
                self.host.crashed(running, f"{running.describe_exit()} during a step")
            self.host.calls.record(plugin, self.name, outcome[0], seconds)


async def _execute(
    running: PluginProcess, name: str, ctx: StepContext, outcome: list[str]
) -> Outputs:
    import grpc

    from nestr.plugin._proto import plugin_pb2 as pb
    from nestr.plugin._proto import plugin_pb2_grpc as pb_grpc

    stub = running.stub(pb_grpc.StepPluginStub)
    execution = uuid.uuid4().hex
    request = pb.ExecuteRequest(
        execution_id=execution,
        step_type=name,
        run_id=ctx.run_id,
        step_key=ctx.key,
        attempt=ctx.attempt,
        cwd=str(ctx.cwd),
        env=dict(ctx.env),
        repo=ctx.repo.name if ctx.repo is not None else "",
        state_dir=str(ctx.state_dir or ""),
        **{"with": to_struct(ctx.with_)},
    )
    outputs: dict[str, str] = {}
    call = stub.Execute(request, metadata=running.metadata)
    try:
        async for message in call:
            result = _handle(message, ctx, outputs)
            if result is not None:
                outcome[0] = _OUTCOMES.get(result.status, "failed")
                return _ended(result, outputs, running.launch.name)
    except asyncio.CancelledError:
        await _cancel(stub, running, execution)
        call.cancel()
        raise
    except grpc.aio.AioRpcError as exc:
        failure = await _broken(running, exc)
        outcome[0] = "crashed" if running.process.returncode is not None else "error"
        raise failure from None
    raise StepFailed(f"plugin {running.launch.name} ended the call without a result")


def _handle(message: Any, ctx: StepContext, outputs: dict[str, str]) -> Any:
    """Apply one streamed message; the result when it is the last one."""
    kind = message.WhichOneof("kind")
    if kind == "log":
        ctx.log.write("stderr" if message.log.stream == 2 else "stdout", message.log.text)
    elif kind == "output":
        outputs[message.output.name] = message.output.value
    elif kind == "progress":
        ctx.emit(STEP_PROGRESS.name, _progress(message.progress))
    elif kind == "result":
        return message.result
    return None


def _progress(step: Any) -> StepProgress:
    """A plugin's progress as the catalogue's ``nestr.workflow.step.progress`` data."""
    data = StepProgress(message=step.message, current=int(step.done))
    if step.total:
        data["total"] = int(step.total)
    if step.unit:
        data["unit"] = step.unit
    return data


def _ended(result: Any, outputs: dict[str, str], plugin: str) -> Outputs:
    from nestr.plugin._proto import plugin_pb2 as pb

    if result.status == pb.STATUS_SUCCEEDED:
        return outputs
    if result.status == pb.STATUS_CANCELLED:
        raise StepFailed(result.message or f"plugin {plugin} cancelled the step")
    raise StepFailed(result.message or "the step failed", returncode=result.returncode or None)


async def _cancel(stub: Any, running: PluginProcess, execution: str) -> None:
    """Ask the plugin to stop ``execution``; a plugin that does not answer is left to its group."""
    from nestr.plugin._proto import plugin_pb2 as pb

    with contextlib.suppress(Exception):
        await asyncio.wait_for(
            stub.Cancel(pb.CancelRequest(execution_id=execution), metadata=running.metadata),
            CALL_TIMEOUT,
        )


async def _broken(running: PluginProcess, exc: Any) -> StepFailed:
    """The failure of a call whose stream broke: a crash when the plugin has exited."""
    code = await asyncio.to_thread(running.exited, CRASH_WAIT)
    name = running.launch.name
    if code is not None:
        return StepFailed(f"plugin {name} crashed during the step ({running.describe_exit()})")
    return StepFailed(f"plugin {name}: Execute failed: {exc.code().name}: {exc.details()}")
