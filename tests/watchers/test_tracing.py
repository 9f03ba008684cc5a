"""Spans of a traced run, as the SDK's in-memory exporter receives them: names, parents,
attributes, and the ``traceparent`` that events, log lines and child processes carry."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from nestr.config.settings import OtelSettings
from nestr.events.bus import EventBus
from nestr.events.envelope import Event
from nestr.manifest.loader import load_manifest
from nestr.observability import tracing
from nestr.observability.context import child_env
from nestr.observability.logging import configure_logging, get_logger
from nestr.watchers.tracing import Tracing, http_traces_url, start_tracing
from nestr.workflow import RunResult, run_workflow

WORKFLOWS = """
traced:
  steps:
    - {id: first, uses: noop}
    - id: second
      needs: [first]
      run: >-
        python3 -c "import os; open('seen', 'w').write(os.environ['TRACEPARENT'])"
    - id: third
      needs: [second]
      shell: true
      run: "exit 3"
"""


def run_workflow_in(root: Path, workflows: str, name: str, bus: EventBus) -> RunResult:
    """Run workflow ``name`` of a manifest holding ``workflows``, in ``root``."""
    body = textwrap.indent(textwrap.dedent(workflows).strip("\n"), "  ")
    manifest = root / "nestr.yaml"
    manifest.write_text(f"version: 1\nrepos: []\nworkflows:\n{body}\n", encoding="utf-8")
    return asyncio.run(
        run_workflow(
            name,
            manifest=load_manifest(manifest),
            state_dir=root / "state",
            workspace_root=root,
            bus=bus,
        )
    )


@pytest.fixture
def exported() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    """Tracing on for the test, every span kept in memory."""
    memory = InMemorySpanExporter()
    settings = OtelSettings(endpoint="http://127.0.0.1:1")
    with start_tracing(settings, processor=SimpleSpanProcessor(memory)) as on:
        yield on, memory
    assert not tracing.enabled()


def traceparent_of(span: ReadableSpan) -> str:
    ctx = span.get_span_context()
    assert ctx is not None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_a_run_is_one_trace_of_run_attempts_and_processes(
    exported: tuple[Tracing, InMemorySpanExporter], tmp_path: Path
) -> None:
    """Under the action's root: one ``nestr.run`` span, a ``nestr.attempt`` per try with its
    step and outcome (none for a ``noop``, tried inside the scheduler's turn), a ``process``
    span per process whose ``TRACEPARENT`` the process got, and each step event carries the
    ``traceparent`` of its try's span (a ``noop``'s, the run's)."""
    on, memory = exported
    on.begin("nestr run")
    bus = EventBus()
    events: list[Event] = []
    bus.add_listener(events.append)
    result = run_workflow_in(tmp_path, WORKFLOWS, "traced", bus)
    on.close()
    assert result.status == "failed"
    spans = {span.name: span for span in memory.get_finished_spans()}
    root, run = spans["nestr run"], spans["nestr.run"]
    assert parent_id(root) is None
    assert parent_id(run) == root.context.span_id
    assert run.attributes is not None
    assert run.attributes["nestr.run_id"] == result.run_id
    assert run.attributes["nestr.run.status"] == "failed"
    attempts = {
        s.attributes["nestr.step"]: s
        for s in memory.get_finished_spans()
        if s.name == "nestr.attempt" and s.attributes is not None
    }
    assert set(attempts) == {"second", "third"}
    assert {parent_id(s) for s in attempts.values()} == {run.context.span_id}
    assert attempts["third"].attributes is not None
    assert attempts["third"].attributes["nestr.attempt.status"] == "failed"
    assert not attempts["third"].status.is_ok
    processes = [s for s in memory.get_finished_spans() if s.name == "process"]
    by_parent = {parent_id(s): s for s in processes}
    python = by_parent[attempts["second"].context.span_id]
    assert python.attributes == {"process.executable.name": "python3", "process.exit.code": 0}
    assert (tmp_path / "seen").read_text() == traceparent_of(python)
    assert by_parent[attempts["third"].context.span_id].attributes == {
        "process.executable.name": "sh",
        "process.exit.code": 3,
    }
    for event in events:
        if event.step is not None and event.type.startswith("nestr.workflow.step."):
            span = attempts.get(event.step, run)
            assert event.traceparent == traceparent_of(span), event
    finished = next(e for e in events if e.type == "nestr.workflow.run.finished")
    assert finished.traceparent == traceparent_of(run)
    assert {s.context.trace_id for s in memory.get_finished_spans()} == {root.context.trace_id}


def test_git_runs_in_a_span_named_by_its_subcommand_and_gets_its_traceparent(
    exported: tuple[Tracing, InMemorySpanExporter],
) -> None:
    """Each git is a ``git SUBCOMMAND`` span (options before the subcommand passed over) with
    its exit code, and git's environment holds that span's ``TRACEPARENT``."""
    from nestr.git.runner import run_git_sync

    _, memory = exported
    with tracing.span("action"):
        result = run_git_sync(["-c", "alias.tp=!printenv TRACEPARENT", "tp"])
    (span,) = [s for s in memory.get_finished_spans() if s.name.startswith("git")]
    assert span.name == "git tp"
    assert span.attributes == {"process.exit.code": 0}
    assert result.stdout.strip() == traceparent_of(span)


def test_log_lines_carry_the_ids_of_the_current_span(
    exported: tuple[Tracing, InMemorySpanExporter],
) -> None:
    """A JSON log line written inside a span has its ``trace_id`` and ``span_id``."""
    _, memory = exported
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    with tracing.span("logged"):
        get_logger("nestr.test").info("inside")
    (span,) = memory.get_finished_spans()
    line = json.loads(stream.getvalue())
    assert line["trace_id"] == f"{span.context.trace_id:032x}"
    assert line["span_id"] == f"{span.context.span_id:016x}"


def test_with_tracing_off_nothing_carries_trace_context(tmp_path: Path) -> None:
    """Off (no tracer installed): spans are one shared no-op, children get no
    ``TRACEPARENT``, log lines no trace ids, events no ``traceparent``."""
    assert tracing.span("x", a=1) is tracing.span("y") is tracing.NO_SPAN
    assert "TRACEPARENT" not in child_env()
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    get_logger("nestr.test").info("outside")
    assert "trace_id" not in json.loads(stream.getvalue())
    assert EventBus().publish(Event("nestr.test")).traceparent is None


def test_an_inherited_traceparent_is_the_parent_of_the_actions_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A nestr started with ``TRACEPARENT`` (a step of a traced run) continues that trace:
    its root span's parent is the span the variable names."""
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    monkeypatch.setenv("TRACEPARENT", parent)
    memory = InMemorySpanExporter()
    settings = OtelSettings(endpoint="http://127.0.0.1:1")
    with start_tracing(settings, processor=SimpleSpanProcessor(memory)) as on:
        on.begin("nestr run")
        with tracing.span("inside"):
            pass
    inside, root = memory.get_finished_spans()
    assert root.parent is not None
    assert root.parent.span_id == 0xB7AD6B7169203331
    assert root.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert parent_id(inside) == root.context.span_id


def test_a_run_with_tracing_off_never_imports_opentelemetry(tmp_path: Path) -> None:
    """``nestr run`` without ``otel.endpoint`` finishes without loading OpenTelemetry (no
    import cost when off)."""
    (tmp_path / "nestr.yaml").write_text(
        textwrap.dedent("""\
            version: 1
            repos: []
            workflows:
              one:
                steps:
                  - {id: a, uses: noop}
                  - {id: b, run: "true", needs: [a]}
            """),
        encoding="utf-8",
    )
    code = (
        "import sys\nfrom nestr.cli.main import main\nrc = main(['run', 'one'])\n"
        "loaded = [m for m in sys.modules if m.startswith('opentelemetry')]\n"
        "print('OTEL', loaded, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "OTEL []" in done.stderr


def test_an_endpoint_that_is_no_url_is_refused_naming_the_setting(
    nestr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``otel.endpoint`` without a scheme is bad input: exit 2 naming the variable and the key."""
    monkeypatch.setenv("NESTR_OTEL__ENDPOINT", "localhost:4317")
    result = nestr("config", "show")
    assert result.code == 2
    assert "env NESTR_OTEL__ENDPOINT: otel.endpoint: expected an http:// or https:// URL" in (
        result.err
    )


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("https://api.example/otlp/v1/traces", "https://api.example/otlp/v1/traces"),
    ],
)
def test_http_endpoint_gets_v1_traces_only_when_it_names_no_path(endpoint: str, url: str) -> None:
    """Over HTTP a bare endpoint gets ``/v1/traces`` (as the OTLP variables are read); a URL
    with a path is used as given."""
    assert http_traces_url(endpoint) == url


def test_traceparent_is_the_innermost_open_span_else_the_actions_root(
    exported: tuple[Tracing, InMemorySpanExporter],
) -> None:
    """What events are stamped with follows the spans as they open and close, in tasks and
    threads of their own too: where no span is open, the action's root."""
    on, memory = exported
    on.begin("nestr test")

    async def in_a_task(outer: str | None) -> tuple[str | None, str | None]:
        with tracing.span("inner"):
            inner = tracing.traceparent()
        return inner, tracing.traceparent() if outer else None

    with tracing.span("outer"):
        outer = tracing.traceparent()
        inner, after = asyncio.run(in_a_task(outer))
        again = tracing.traceparent()
    root = tracing.traceparent()
    elsewhere: list[str | None] = []
    thread = threading.Thread(target=lambda: elsewhere.append(tracing.traceparent()))
    thread.start()
    thread.join()
    on.close()
    spans = {span.name: traceparent_of(span) for span in memory.get_finished_spans()}
    assert outer == again == after == spans["outer"]
    assert inner == spans["inner"]
    assert root == elsewhere[0] == spans["nestr test"]
