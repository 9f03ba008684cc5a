"""The plugin's gRPC server: the handshake, the secret check, and the ``StepPlugin`` service.

Kept apart from :mod:`nestr.plugin.sdk` so that declaring steps imports no gRPC: only
``serve()`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeAlias

import grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from nestr.plugin import handshake
from nestr.plugin._proto import plugin_pb2 as pb
from nestr.plugin._proto import plugin_pb2_grpc as pb_grpc
from nestr.plugin.call import StepCall, StepError, output_text
from nestr.plugin.schema import problems
from nestr.plugin.sdk import Plugin, StepSpec

SERVICE = "nestr.plugin.v1.StepPlugin"
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
STOP_GRACE = 2.0  # seconds Execute calls get to end when the plugin is stopped


class _SecretCheck(grpc.aio.ServerInterceptor):
    """Refuses every call that does not carry this launch's secret (``UNAUTHENTICATED``)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

        async def deny(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong or missing plugin secret")

        self._deny: Handler = grpc.unary_unary_rpc_method_handler(deny)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        given = dict(handler_call_details.invocation_metadata or ()).get(
            handshake.SECRET_METADATA, ""
        )
        given_bytes = given.encode() if isinstance(given, str) else bytes(given)
        if not hmac.compare_digest(given_bytes, self._secret):
            return self._deny
        return await continuation(handler_call_details)


def plain(value: Any) -> Any:
    """A Struct value as Python: whole numbers back to ``int`` (Struct keeps only doubles)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def struct_dict(message: Any) -> dict[str, Any]:
    """The ``with:`` of a request as a plain dict."""
    result: dict[str, Any] = plain(json_format.MessageToDict(message))
    return result


class StepPluginServicer(pb_grpc.StepPluginServicer):
    """``StepPlugin`` over a :class:`Plugin`'s steps."""

    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin
        self.running: dict[str, tuple[asyncio.Task[pb.Result], StepCall]] = {}

    async def Describe(self, request: pb.DescribeRequest, context: Any) -> pb.DescribeResponse:
        types = [
            pb.StepType(
                name=spec.name,
                description=spec.description,
                with_schema=json.dumps(spec.schema) if spec.schema is not None else "",
            )
            for spec in self.plugin.steps.values()
        ]
        return pb.DescribeResponse(
            name=self.plugin.name, version=self.plugin.version, step_types=types
        )

    async def Validate(self, request: pb.ValidateRequest, context: Any) -> pb.ValidateResponse:
        spec = self.plugin.steps.get(request.step_type)
        if spec is None:
            found: list[tuple[tuple[str, ...], str]] = [
                ((), f"plugin {self.plugin.name} has no step type {request.step_type!r}")
            ]
        else:
            with_ = struct_dict(getattr(request, "with"))
            found = list(problems(spec.schema, with_)) if spec.schema else []
            if not found and spec.validate is not None:
                found = list(spec.validate(with_))
        return pb.ValidateResponse(
            problems=[pb.Problem(path=list(path), message=text) for path, text in found]
        )

    async def Execute(
        self, request: pb.ExecuteRequest, context: Any
    ) -> AsyncIterator[pb.ExecuteResponse]:
        spec = self.plugin.steps.get(request.step_type)
        if spec is None:
            text = f"plugin {self.plugin.name} has no step type {request.step_type!r}"
            yield pb.ExecuteResponse(result=pb.Result(status=pb.STATUS_FAILED, message=text))
            return
        queue: asyncio.Queue[pb.ExecuteResponse | None] = asyncio.Queue()
        call = _call(request, _sender(queue))
        task = asyncio.ensure_future(_execute(spec, call))
        task.add_done_callback(lambda _: queue.put_nowait(None))  # after all it sent
        self.running[request.execution_id] = (task, call)
        try:
            while (message := await queue.get()) is not None:
                yield message
            yield pb.ExecuteResponse(result=_outcome(task))
        finally:
            self.running.pop(request.execution_id, None)
            if not task.done():  # the host went away mid-stream
                call._cancel.set()
                task.cancel()

    async def Cancel(self, request: pb.CancelRequest, context: Any) -> pb.CancelResponse:
        found = self.running.get(request.execution_id)
        if found is not None:
            task, call = found
            call._cancel.set()
            task.cancel()
        return pb.CancelResponse(found=found is not None)


def _sender(
    queue: asyncio.Queue[pb.ExecuteResponse | None],
) -> Callable[[pb.ExecuteResponse], None]:
    """Put a message on ``queue`` from the loop's thread or from a step's worker thread."""
    loop = asyncio.get_running_loop()
    owner = threading.get_ident()

    def send(message: pb.ExecuteResponse) -> None:
        if threading.get_ident() == owner:
            queue.put_nowait(message)
        else:
            loop.call_soon_threadsafe(queue.put_nowait, message)

    return send


def _call(request: pb.ExecuteRequest, send: Callable[[pb.ExecuteResponse], None]) -> StepCall:
    return StepCall(
        step_type=request.step_type,
        with_=struct_dict(getattr(request, "with")),
        run_id=request.run_id,
        step_key=request.step_key,
        attempt=request.attempt,
        cwd=request.cwd,
        env=dict(request.env),
        repo=request.repo,
        state_dir=request.state_dir,
        _send=send,
    )


def _outcome(task: asyncio.Task[pb.Result]) -> pb.Result:
    """How ``task`` ended; cancelled too when a Cancel came before it ever ran (its function
    then never started, so it could not say so itself)."""
    if task.cancelled():
        return pb.Result(status=pb.STATUS_CANCELLED, message="cancelled")
    return task.result()


async def _execute(spec: StepSpec, call: StepCall) -> pb.Result:
    """Run the step function; how it ended as a :class:`Result` (never raises but for cancel)."""
    try:
        if spec.is_async:
            outputs = await spec.function(call)  # type: ignore[misc]
        else:
            outputs = await asyncio.to_thread(spec.function, call)
    except asyncio.CancelledError:
        return pb.Result(status=pb.STATUS_CANCELLED, message="cancelled")
    except StepError as exc:
        return pb.Result(status=pb.STATUS_FAILED, message=exc.message, returncode=exc.returncode)
    except Exception as exc:  # a bug in a step fails the step, not the plugin
        call.log("".join(traceback.format_exception(exc)), stream="stderr")
        return pb.Result(status=pb.STATUS_FAILED, message=f"{type(exc).__name__}: {exc}")
    for name, value in dict(outputs or {}).items():
        call._send(pb.ExecuteResponse(output=pb.Output(name=str(name), value=output_text(value))))
    return pb.Result(status=pb.STATUS_SUCCEEDED)


async def run(plugin: Plugin) -> None:
    """Listen, print the handshake, serve until SIGTERM or SIGINT, clean up."""
    secret = os.environ.get(handshake.SECRET_ENV, "")
    if not secret:
        sys.exit(
            f"{plugin.name}: this is a nestr plugin; nestr starts it (try `nestr plugin check`)"
        )
    offered = handshake.offered_versions(os.environ.get(handshake.VERSIONS_ENV))
    version = max(
        (v for v in offered if v in handshake.SUPPORTED_VERSIONS),
        default=handshake.PROTOCOL_VERSION,
    )
    server = grpc.aio.server(interceptors=[_SecretCheck(secret)])
    pb_grpc.add_StepPluginServicer_to_server(StepPluginServicer(plugin), server)  # type: ignore[no-untyped-call]
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for name in ("", SERVICE):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    folder = Path(tempfile.mkdtemp(prefix="nestr-plugin-"))
    try:
        shown = _listen(server, folder)
        await server.start()
        sys.stdout.write(handshake.Handshake(version, *shown).line())
        sys.stdout.flush()
        sys.stdout = sys.stderr  # a stray print must not look like protocol to the host
        await _until_stopped()
        await server.stop(STOP_GRACE)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _listen(server: grpc.aio.Server, folder: Path) -> tuple[str, str]:
    if os.environ.get(handshake.TRANSPORT_ENV) == "tcp":
        port = server.add_insecure_port("127.0.0.1:0")
        return "tcp", f"127.0.0.1:{port}"
    path = folder / "plugin.sock"
    server.add_insecure_port(f"unix:{path}")
    return "unix", str(path)


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()
