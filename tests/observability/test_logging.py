"""Logging: JSON lines for machines, context on every line, stdlib through the same pipeline."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from nestr.observability.logging import bind_context, configure_logging, get_logger


def test_json_lines_carry_bound_context() -> None:
    """With json format each line is JSON and has the bound run_id and repo."""
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    with bind_context(run_id="r-1", repo="api"):
        get_logger("nestr.test").info("cloned", seconds=1.5)
    get_logger("nestr.test").info("after")
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
    """auto on a non-TTY stream is plain console text (the format of the progress lines
    beside it), without colour codes; debug lines are dropped at info."""
    stream = io.StringIO()
    configure_logging("info", "auto", stream)
    log = get_logger("x")
    log.debug("hidden")
    log.info("shown", repo="api")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "shown" in lines[0]
    assert "repo=api" in lines[0]
    assert "\x1b[" not in lines[0]
    assert not lines[0].startswith("{")


def test_console_format_is_for_people() -> None:
    """console format prints readable text, not JSON."""
    stream = io.StringIO()
    configure_logging("info", "console", stream)
    get_logger("x").info("hello", repo="api")
    text = stream.getvalue()
    assert "hello" in text
    assert "repo=api" in text
    assert not text.startswith("{")


def test_unknown_context_keys_are_refused() -> None:
    """Only the documented context keys can be bound."""
    with pytest.raises(ValueError, match="unknown log context"), bind_context(colour="red"):
        pass


def test_exception_lines_carry_the_traceback() -> None:
    """log.exception records the active exception's traceback in the JSON line."""
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        raise ValueError("broken thing")
    except ValueError:
        get_logger("x").exception("it failed", repo="api")
    line = json.loads(stream.getvalue())
    assert line["event"] == "it failed"
    assert "ValueError: broken thing" in line["exception"]


def test_filtered_lines_do_not_import_structlog() -> None:
    """A debug line at info level costs a level check: structlog stays unimported."""
    code = (
        "import sys\n"
        "from nestr.observability.logging import configure_logging, get_logger\n"
        "configure_logging('info', 'json')\n"
        "get_logger('x').debug('quiet')\n"
        "print('structlog' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_library_logging_without_configuration_never_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before configure_logging a warning goes to stdlib logging, never to stdout."""
    import logging

    logging.getLogger().handlers[:] = []
    get_logger("nestr.lib").warning("careful")
    assert capsys.readouterr().out == ""
