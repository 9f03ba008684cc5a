"""Logging: JSON lines for machines, context on every line, stdlib through the same pipeline."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from nestr.observability.logging import bind_context, configure_logging


def test_json_lines_carry_bound_context() -> None:
    """With json format each line is JSON and has the bound run_id and repo."""
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    with bind_context(run_id="r-1", repo="api"):
        structlog.get_logger("nestr.test").info("cloned", seconds=1.5)
    structlog.get_logger("nestr.test").info("after")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["event"] == "cloned"
    assert (lines[0]["run_id"], lines[0]["repo"], lines[0]["level"]) == ("r-1", "api", "info")
    assert "run_id" not in lines[1]


def test_stdlib_logging_goes_through_the_same_pipeline() -> None:
    """A library's stdlib logger is rendered as JSON with the context too."""
    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    with bind_context(step="build"):
        logging.getLogger("somelib").warning("careful %s", "now")
    line = json.loads(stream.getvalue())
    assert line["event"] == "careful now"
    assert line["step"] == "build"
    assert line["logger"] == "somelib"


def test_level_filters_and_auto_picks_console_off_tty() -> None:
    """auto on a non-TTY stream is JSON; debug lines are dropped at info."""
    stream = io.StringIO()
    configure_logging("info", "auto", stream)
    log = structlog.get_logger("x")
    log.debug("hidden")
    log.info("shown")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["shown"]


def test_console_format_is_for_people() -> None:
    """console format prints readable text, not JSON."""
    stream = io.StringIO()
    configure_logging("info", "console", stream)
    structlog.get_logger("x").info("hello", repo="api")
    text = stream.getvalue()
    assert "hello" in text
    assert "repo=api" in text
    assert not text.startswith("{")


def test_unknown_context_keys_are_refused() -> None:
    """Only the documented context keys can be bound."""
    with pytest.raises(ValueError, match="unknown log context"), bind_context(colour="red"):
        pass
