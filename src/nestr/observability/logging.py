"""structlog, configured once: console lines, or JSON lines when asked for, on stderr.

``auto`` means console lines, coloured on a terminal and plain otherwise: stderr also carries
plain progress lines off a terminal, and one stream should hold one format. JSON lines are what
``--log-format json`` (``log.format: json``) asks for; progress then comes as JSON lines too.

Standard-library logging (from libraries) goes through the same processors, and the context
bound with :func:`bind_context` (``run_id``, ``step``, ``repo``, ``workspace``,
``correlation_id``, ``trace_id``) appears on every line logged while it is bound; when
tracing is on, so do the ``trace_id`` and ``span_id`` of the current span.

structlog is imported only when a line is actually emitted: importing it costs ~90 ms (its dev
renderer pulls in rich), which would double the start-up of every command that logs nothing at
the configured level. nestr code logs through :func:`get_logger`, whose level check is stdlib's.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any, TextIO

CONTEXT_KEYS = ("run_id", "step", "repo", "workspace", "correlation_id", "trace_id")

_context: ContextVar[Mapping[str, Any]] = ContextVar("nestr_log_context", default={})  # noqa: B039 - never mutated, replaced
_state: dict[str, Any] = {"use_json": False, "colors": False, "configured": False}


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Set up structlog and stdlib logging. ``fmt`` is console, json or auto (= console)."""
    stream = stream if stream is not None else sys.stderr
    _state.update(
        use_json=fmt == "json",
        colors=_isatty(stream),
        configured=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_LazyFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class _LazyFormatter(logging.Formatter):
    """Builds structlog's ProcessorFormatter on the first record it formats."""

    def __init__(self) -> None:
        super().__init__()
        self._inner: logging.Formatter | None = None

    def format(self, record: logging.LogRecord) -> str:
        if self._inner is None:
            self._inner = _processor_formatter()
        return self._inner.format(record)


def _shared_processors() -> list[Any]:
    import structlog

    processors: list[Any] = [
        _merge_context,
        _add_trace_ids,
        _redact_urls,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if _state["use_json"]:
        processors.append(structlog.processors.format_exc_info)
    return processors


def _processor_formatter() -> logging.Formatter:
    import structlog

    _ensure_structlog()
    renderer: Any
    if _state["use_json"]:
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=_state["colors"])
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


def _ensure_structlog() -> None:
    """Route structlog through stdlib logging (never print: the library must not)."""
    if _state["configured"]:
        return
    import structlog

    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    _state["configured"] = True


def _merge_context(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in _context.get().items():
        event_dict.setdefault(key, value)
    return event_dict


def _add_trace_ids(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """The current span's ids, so a log line is found from its trace and the other way."""
    from nestr.observability.tracing import current_ids

    ids = current_ids()
    if ids is not None:
        event_dict.setdefault("trace_id", ids[0])
        event_dict.setdefault("span_id", ids[1])
    return event_dict


def _redact_urls(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """No password in a URL (a git command line, a repo's url) reaches a log line."""
    from nestr.redaction import redact_data

    return {key: redact_data(value) for key, value in event_dict.items()}


def logs_as_json() -> bool:
    """True when log lines are JSON: other output on stderr should then be JSON lines too."""
    return bool(_state["use_json"])


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Logger:
    """A structured logger that costs one stdlib level check when a line is filtered out."""

    __slots__ = ("_std", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._std = logging.getLogger(name)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, {**fields, "exc_info": True})

    def _log(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if not self._std.isEnabledFor(level):
            return
        import structlog

        _ensure_structlog()
        structlog.get_logger(self.name).log(level, event, **fields)


def get_logger(name: str) -> Logger:
    """The logger nestr code uses: ``log = get_logger("nestr.git")``."""
    return Logger(name)


class bind_context:
    """Bind context keys (run_id, step, repo, …) for every log line inside the block.

    A class rather than a generator-based context manager: the executor enters one per step,
    and this costs a third as much.
    """

    __slots__ = ("_bound", "_token")

    def __init__(self, **values: Any) -> None:
        unknown = [key for key in values if key not in CONTEXT_KEYS]
        if unknown:
            raise ValueError(f"unknown log context keys: {sorted(unknown)}")
        self._bound = {k: v for k, v in values.items() if v is not None}
        self._token: Token[Mapping[str, Any]] | None = None

    def __enter__(self) -> None:
        self._token = _context.set({**_context.get(), **self._bound})

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None
        reset(_context, self._token)


def reset(var: ContextVar[Any], token: Token[Any]) -> None:
    """Undo ``var.set`` that gave ``token``, unless the block ends in another context.

    An async generator that yields inside a bound block (a gRPC stream) may be closed by
    another task, in a context where the value was never set: there is nothing to undo there,
    and ``ContextVar.reset`` would raise ``ValueError``.
    """
    with contextlib.suppress(ValueError):
        var.reset(token)
