"""Traces exported over OTLP/gRPC to a real receiver: one trace across the CLI process, the
processes its steps start (a nested ``nestr`` among them) and ``nestr serve``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.server.processes import nestr_serve
from tests.watchers.otlp_receiver import ReceivedSpan, otlp_receiver

from nestr.config.settings import OtelSettings
from nestr.observability import tracing
from nestr.server._proto import events_pb2 as events
from nestr.server._proto import events_pb2_grpc as events_grpc
from nestr.server._proto import workflow_pb2 as pb
from nestr.server._proto import workflow_pb2_grpc as pb_grpc
from nestr.watchers.tracing import start_tracing
from nestr.watchers.tracing_grpc import client_interceptors

GUARD = 60  # seconds: a hung server fails the test instead of hanging the suite
OUTER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
RECORD = "import os, sys; open(sys.argv[1], 'w').write(os.environ['TRACEPARENT'])"
WORKFLOWS = f"""
outer:
  steps:
    - id: record
      run: python3 -c "{RECORD}" seen
    - id: nested
      needs: [record]
      run: {sys.executable} -m nestr run inner
inner:
  steps:
    - id: deep
      run: python3 -c "{RECORD}" deep
"""


def write_project(root: Path) -> None:
    body = textwrap.indent(textwrap.dedent(WORKFLOWS).strip("\n"), "  ")
    (root / "nestr.yaml").write_text(
        f"version: 1\nrepos: []\nworkflows:\n{body}\n", encoding="utf-8"
    )


def run_nestr(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``nestr ARGS`` run in ``cwd`` with ``env``, its output captured; it must exit 0."""
    done = subprocess.run(
        [sys.executable, "-m", "nestr", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def ids(traceparent: str) -> tuple[str, str]:
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


def child_of(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.parent == parent.span_id and s.trace_id == parent.trace_id]


def test_a_cli_run_and_its_processes_are_one_trace(tmp_path: Path) -> None:
    """``nestr run`` with ``otel.endpoint`` exports ``nestr run`` → ``nestr.run`` →
    ``nestr.attempt`` → ``process``; a step's process gets its span's ``TRACEPARENT``, a
    ``nestr`` a step starts continues the trace under that process, and the command's root
    continues the ``TRACEPARENT`` it was started with."""
    write_project(tmp_path)
    with otlp_receiver() as receiver:
        env = {
            **os.environ,
            "NESTR_OTEL__ENDPOINT": receiver.endpoint,
            "NESTR_OTEL__SERVICE_NAME": "nestr-test",
            "TRACEPARENT": OUTER,
        }
        run_nestr(tmp_path, env, "run", "outer")
        spans = receiver.spans
    (outer_root,) = [s for s in spans if s.name == "nestr run" and s.parent == ids(OUTER)[1]]
    assert outer_root.trace_id == ids(OUTER)[0]
    assert outer_root.service == "nestr-test"
    assert {s.trace_id for s in spans} == {ids(OUTER)[0]}
    (run,) = [s for s in child_of(spans, outer_root) if s.name == "nestr.run"]
    assert run.attributes["nestr.workflow"] == "outer"
    attempts = {s.attributes["nestr.step"]: s for s in child_of(spans, run)}
    assert set(attempts) == {"record", "nested"}
    (recorder,) = child_of(spans, attempts["record"])
    assert recorder.name == "process"
    assert ids((tmp_path / "seen").read_text()) == recorder.traceparent_ids
    (nestr_process,) = child_of(spans, attempts["nested"])
    (inner_root,) = child_of(spans, nestr_process)
    assert inner_root.name == "nestr run"
    (inner_run,) = child_of(spans, inner_root)
    (deep,) = child_of(spans, inner_run)
    assert deep.attributes["nestr.step"] == "deep"
    (deep_process,) = child_of(spans, deep)
    assert ids((tmp_path / "deep").read_text()) == deep_process.traceparent_ids


def test_a_call_to_nestr_serve_continues_the_clients_trace(tmp_path: Path) -> None:
    """A client tracing with ``client_interceptors()`` calls ``StartRun`` of a real ``nestr
    serve``: the server's call span is the child of the client's call span, the run's spans
    are below the call's, and the server traces no stream or health call."""
    write_project(tmp_path)
    memory = InMemorySpanExporter()
    with otlp_receiver() as receiver:
        otel = {"NESTR_OTEL__ENDPOINT": receiver.endpoint}
        with nestr_serve(tmp_path / "state", env=otel, cwd=tmp_path) as (server, address):
            settings = OtelSettings(endpoint="http://127.0.0.1:1")
            with start_tracing(settings, processor=SimpleSpanProcessor(memory)) as on:
                on.begin("client action")
                status = asyncio.run(start_and_wait(address))
            assert status == "succeeded"
            server.send_signal(signal.SIGTERM)
            _, err = server.communicate(timeout=GUARD)
            assert server.returncode == 0, err
        spans = receiver.spans
    (client_call,) = [
        s for s in memory.get_finished_spans() if s.name == "nestr.v1.WorkflowService/StartRun"
    ]
    (call,) = receiver.named("nestr.v1.WorkflowService/StartRun")
    assert call.trace_id == f"{client_call.context.trace_id:032x}"
    assert call.parent == f"{client_call.context.span_id:016x}"
    assert call.attributes["rpc.grpc.status_code"] == 0
    (run,) = child_of(spans, call)
    assert run.name == "nestr.run"
    assert {s.attributes["nestr.step"] for s in child_of(spans, run)} == {"record", "nested"}
    names = {s.name for s in spans}
    assert not any("Subscribe" in n or "Health" in n for n in names)
    assert "nestr serve" not in names  # the server's calls are its actions, not the command


async def start_and_wait(address: str) -> str:
    """Check health, read from a ``Subscribe`` stream, start ``outer`` through a traced
    channel, then poll its status until it ends."""
    assert tracing.enabled()
    async with aio.insecure_channel(address, interceptors=client_interceptors()) as channel:
        stub = pb_grpc.WorkflowServiceStub(channel)
        async with asyncio.timeout(GUARD):
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            stream = events_grpc.EventServiceStub(channel).Subscribe(events.SubscribeRequest())
            await stream.read()
            stream.cancel()
            started = await stub.StartRun(pb.StartRunRequest(workflow="outer"))
            while True:
                got = await stub.GetRun(pb.GetRunRequest(run_id=started.run_id))
                if got.run.status not in {"pending", "running"}:
                    return str(got.run.status)
                await asyncio.sleep(0.05)  # polling the state, not timing anything


def test_http_protobuf_posts_to_v1_traces_with_the_configured_headers(tmp_path: Path) -> None:
    """With ``otel.protocol: http/protobuf`` spans are POSTed as OTLP protobuf to the endpoint's
    ``/v1/traces``, with the secret ``otel.headers`` (read from a file) on the request."""
    received: list[tuple[str, str | None, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["x-api-key"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    write_project(tmp_path)
    (tmp_path / "headers").write_text("x-api-key=s3cret\n", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {
            **os.environ,
            "NESTR_OTEL__ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
            "NESTR_OTEL__PROTOCOL": "http/protobuf",
            "NESTR_OTEL__HEADERS_FILE": str(tmp_path / "headers"),
        }
        done = run_nestr(tmp_path, env, "run", "inner")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert {(path, key) for path, key, _ in received} == {("/v1/traces", "s3cret")}
    request = ExportTraceServiceRequest.FromString(b"".join(body for *_, body in received))
    names = {s.name for r in request.resource_spans for sc in r.scope_spans for s in sc.spans}
    assert names == {"nestr run", "nestr.run", "nestr.attempt", "process"}
    assert "s3cret" not in done.stderr


def test_nestr_run_with_server_is_one_trace_from_the_command_to_the_steps(tmp_path: Path) -> None:
    """``nestr --server ADDR run`` with tracing on: the command's root span is the parent of
    its ``StartRun`` call span, the server's call span is that call's child, and the run and
    its steps are below it: one trace across the CLI process, the server and the steps."""
    write_project(tmp_path)
    with otlp_receiver() as receiver:
        env = {**os.environ, "NESTR_OTEL__ENDPOINT": receiver.endpoint}
        env.pop("TRACEPARENT", None)
        otel = {"NESTR_OTEL__ENDPOINT": receiver.endpoint, "TRACEPARENT": None}
        with nestr_serve(tmp_path / "state", env=otel, cwd=tmp_path) as (server, address):
            run_nestr(tmp_path, env, "--server", address, "run", "outer")
            server.send_signal(signal.SIGTERM)
            _, err = server.communicate(timeout=GUARD)
            assert server.returncode == 0, err
        spans = receiver.spans
    (root,) = [s for s in spans if s.name == "nestr run" and not s.parent]
    calls = [s for s in child_of(spans, root) if s.name == "nestr.v1.WorkflowService/StartRun"]
    (client_call,) = calls  # the CLI's span of the call
    (server_call,) = child_of(spans, client_call)  # the server's span of the same call
    assert server_call.name == "nestr.v1.WorkflowService/StartRun"
    (run,) = child_of(spans, server_call)
    assert run.name == "nestr.run"
    assert {s.attributes["nestr.step"] for s in child_of(spans, run)} == {"record", "nested"}
