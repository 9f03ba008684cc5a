"""The Ollama bridge, run by its plugin process (`bridges` fixture), against a local server
speaking Ollama's REST API (``ollama_server``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.bridges.ollama_server import Script, free_port, ollama_server

from nestr.bridges.ollama.step import generate
from nestr.events.catalog import STEP_PROGRESS
from nestr.testing import run_step, run_step_sync
from nestr.workflow.registry import StepRegistry


def test_generate_streams_tokens_into_the_log_in_order_and_outputs_the_text(
    bridges: StepRegistry,
    tmp_path: Path,
) -> None:
    """`ollama.generate` writes the model's tokens to the step log in the order they came,
    line by line with a progress event per line, and outputs the whole text."""
    with ollama_server() as (host, script):
        ran = run_step_sync(
            "ollama.generate",
            registry=bridges,
            with_={"model": "tiny", "prompt": "Say hi", "system": "Be brief", "host": host},
            cwd=tmp_path,
        )
    assert ran.status == "succeeded", ran.error
    assert ran.outputs["text"] == "Hello, world\nBye."
    assert ran.outputs["model"] == "tiny"
    assert ran.outputs["tokens"] == "6"
    assert ran.stdout == "Hello, world\nBye.\n"
    progress = [e.data for e in ran.events if e.type == STEP_PROGRESS.name]
    assert [p["message"] for p in progress] == ["Hello, world", "Bye."]
    assert [p["unit"] for p in progress] == ["tokens", "tokens"]
    assert progress[-1]["current"] == 6
    path, body = script.requests[0]
    assert (path, body["prompt"], body["system"], body["stream"]) == (
        "/api/generate",
        "Say hi",
        "Be brief",
        True,
    )


def test_chat_sends_the_messages_and_outputs_the_reply(
    bridges: StepRegistry, tmp_path: Path
) -> None:
    """`ollama.chat` sends `system`, the messages and `prompt` as the last user message, and
    outputs the assistant's streamed reply."""
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    with ollama_server() as (host, script):
        ran = run_step_sync(
            "ollama.chat",
            registry=bridges,
            with_={
                "model": "tiny",
                "system": "terse",
                "messages": messages,
                "prompt": "again",
                "options": {"temperature": 0},
                "host": host,
            },
            cwd=tmp_path,
        )
    assert ran.status == "succeeded", ran.error
    assert ran.outputs["text"] == "Hello, world\nBye."
    path, body = script.requests[0]
    assert path == "/api/chat"
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("system", "terse"),
        ("user", "hi"),
        ("assistant", "hello"),
        ("user", "again"),
    ]
    assert body["options"] == {"temperature": 0}


def test_host_comes_from_ollama_host_in_the_steps_environment(
    bridges: StepRegistry, tmp_path: Path
) -> None:
    """Without `host:`, the step talks to the server `OLLAMA_HOST` of its environment names,
    as the Ollama CLI and client do."""
    with ollama_server() as (host, _):
        ran = run_step_sync(
            "ollama.generate",
            registry=bridges,
            with_={"model": "tiny", "prompt": "x"},
            env={"OLLAMA_HOST": host},
            cwd=tmp_path,
        )
    assert ran.status == "succeeded", ran.error


def test_a_missing_model_fails_the_step_with_the_pull_hint(
    bridges: StepRegistry, tmp_path: Path
) -> None:
    """A model the server does not have fails the step, naming the model and those the server
    has, and saying to run `ollama pull MODEL`."""
    with ollama_server() as (host, _):
        ran = run_step_sync(
            "ollama.generate",
            registry=bridges,
            with_={"model": "llama3.2", "prompt": "x", "host": host},
            cwd=tmp_path,
        )
    assert ran.status == "failed"
    assert ran.error is not None
    assert "'llama3.2' is not on the Ollama server" in ran.error
    assert "it has tiny:latest" in ran.error  # what /api/tags lists
    assert "`ollama pull llama3.2`" in ran.error


def test_a_server_that_is_down_fails_the_step_with_the_serve_hint(
    bridges: StepRegistry, tmp_path: Path
) -> None:
    """Nothing listening at the host fails the step with where it looked and how to start
    the server or point OLLAMA_HOST at it."""
    host = f"http://127.0.0.1:{free_port()}"
    ran = run_step_sync(
        "ollama.chat",
        registry=bridges,
        with_={"model": "tiny", "prompt": "x", "host": host},
        cwd=tmp_path,
    )
    assert ran.status == "failed"
    assert ran.error is not None
    assert f"no Ollama server answers at {host}" in ran.error
    assert "`ollama serve`" in ran.error
    assert "OLLAMA_HOST" in ran.error


def test_an_error_line_mid_stream_fails_the_step_after_the_text_so_far(
    bridges: StepRegistry, tmp_path: Path
) -> None:
    """An `{"error": ...}` line in the stream (the runner crashed) fails the step with the
    server's message; the tokens before it are already in the log."""
    with ollama_server(Script(fail_after=3)) as (host, _):
        ran = run_step_sync(
            "ollama.generate",
            registry=bridges,
            with_={"model": "tiny", "prompt": "x", "host": host},
            cwd=tmp_path,
        )
    assert ran.status == "failed"
    assert ran.error is not None
    assert "model runner has unexpectedly stopped" in ran.error
    assert ran.stdout == ""  # no complete line yet: nothing flushed before the failure


def test_a_stream_slower_than_timeout_fails_the_step(bridges: StepRegistry, tmp_path: Path) -> None:
    """A model that stops writing mid-answer fails the step once `timeout` passes, saying so
    and how to give it longer (not a run-level timeout: the step's own)."""
    with ollama_server(Script(hold_after=2)) as (host, _):
        ran = run_step_sync(
            "ollama.generate",
            registry=bridges,
            with_={"model": "tiny", "prompt": "x", "host": host, "timeout": 0.3},
            cwd=tmp_path,
        )
    assert ran.status == "failed"
    assert ran.error is not None
    assert "tiny did not finish within 0.3s" in ran.error
    assert "`timeout`" in ran.error


def test_cancel_mid_stream_ends_the_step_and_closes_the_connection(
    bridges: StepRegistry, tmp_path: Path
) -> None:
    """Cancelling the step while the model is writing ends it as cancelled and drops the
    connection, so the server stops generating for it."""

    async def scenario() -> tuple[str, bool]:
        with ollama_server(Script(hold_after=2)) as (host, script):
            cancel = asyncio.Event()
            task = asyncio.create_task(
                run_step(
                    "ollama.generate",
                    registry=bridges,
                    with_={"model": "tiny", "prompt": "x", "host": host},
                    cwd=tmp_path,
                    cancel=cancel,
                )
            )
            assert await asyncio.to_thread(script.held.wait, 30)
            cancel.set()
            ran = await task
            closed = await asyncio.to_thread(script.disconnected.wait, 30)
            return ran.status, closed

    status, closed = asyncio.run(scenario())
    assert status == "cancelled"
    assert closed


def test_bad_with_values_fail_with_the_field_named(bridges: StepRegistry, tmp_path: Path) -> None:
    """A missing model, a non-mapping `options` and a bad `timeout` each fail before any
    request, naming the field."""
    cases = [
        ({"prompt": "x"}, "set `model`"),
        ({"model": "m", "prompt": "x", "options": [1]}, "`options` must be a mapping"),
        ({"model": "m", "prompt": "x", "timeout": -1}, "`timeout` must be seconds > 0"),
        ({"model": "m"}, "set `prompt`"),
    ]
    for with_, expected in cases:
        ran = run_step_sync("ollama.generate", registry=bridges, with_=with_, cwd=tmp_path)
        assert ran.status == "failed", with_
        assert expected in (ran.error or ""), with_


class RecordingContext:
    """A BridgeContext that keeps what the step logs and emits (no run behind it)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env: dict[str, str] = env or {}
        self.logged: list[str] = []
        self.emitted: list[tuple[str, dict[str, object]]] = []
        self.wrote = asyncio.Event()

    def log(self, text: str, *, stream: str = "stdout") -> None:
        self.logged.append(text)
        self.wrote.set()

    def emit(self, type: str, data: Mapping[str, Any]) -> None:
        self.emitted.append((type, dict(data)))

    def outputs(self) -> dict[str, dict[str, str]]:
        return {}

    def statuses(self) -> dict[str, str]:
        return {}

    def log_tail(self, key: str, lines: int = 20) -> str:
        return ""


def test_lines_reach_the_log_while_the_model_is_still_writing() -> None:
    """The bridge function, given any context, logs a finished line as soon as it arrives:
    the first line is in the log while the server holds the rest of the answer back."""

    async def scenario() -> tuple[list[str], bool, Mapping[str, str], list[str]]:
        with ollama_server(Script(hold_after=4)) as (host, script):
            ctx = RecordingContext()
            task = asyncio.create_task(
                generate({"model": "tiny", "prompt": "x", "host": host}, ctx)
            )
            await asyncio.wait_for(ctx.wrote.wait(), 30)
            early, finished_early = list(ctx.logged), task.done()
            script.release.set()
            outputs = await task
            return early, finished_early, outputs, ctx.logged

    early, finished_early, outputs, logged = asyncio.run(scenario())
    assert early == ["Hello, world\n"]
    assert not finished_early
    assert outputs["text"] == "Hello, world\nBye."
    assert logged == ["Hello, world\n", "Bye.\n"]
