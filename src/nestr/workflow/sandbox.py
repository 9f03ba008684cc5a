"""The sandbox ``${{ }}`` expressions run in, bounded in time and size.

Jinja's sandbox stops escapes, not work: ``7**(10**8)`` is one multiplication loop inside
CPython that holds the event loop (and ignores a step's timeout and SIGTERM) for minutes. So
the operators that make big values from small ones (``*``, ``**`` and ``%``-formatting) check
their operands first, calls and filters that take a size check it, and every call, filter and
attribute access checks a deadline (an expression made of many small steps, such as a filter
mapped over a repeated list, stops there). A value past the bounds raises ``SecurityError``,
which :func:`nestr.workflow.expressions.evaluate` reports with the expression.

Imported lazily (it imports jinja2): only a run that evaluates an expression pays for it.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

MAX_INT_BITS = 100_000  # about 30,000 decimal digits
MAX_LENGTH = 1_000_000  # characters of a text, items of a repeated sequence
TIME_LIMIT = 2.0  # seconds one expression may take
_SIZED_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "to_bytes"})
_SIZED_FILTERS = frozenset({"center", "indent", "truncate", "wordwrap"})
_PERCENT_SIZE = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SIZE = re.compile(r"\{[^{}]*:[^{}]*?(\{|\d{7,})")
_SEQUENCES = (str, bytes, list, tuple)
_FORMATS = ("format", "format_map")


class BoundedEnvironment(SandboxedEnvironment):
    """A sandbox whose evaluations stop at :data:`TIME_LIMIT` and the size bounds."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_time()
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(
        __self,  # Jinja's signature: a keyword argument may be named "self"
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        check_time()
        name = getattr(__obj, "__name__", "")
        if name in _SIZED_METHODS:
            _check_sizes(name, (*args, *kwargs.values()))
        return SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        template = getattr(value, "__self__", None)
        if isinstance(template, str) and getattr(value, "__name__", "") in _FORMATS:
            _check_format(template, _FORMAT_SIZE)
        return super().wrap_str_format(value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        check_time()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        check_time()
        return super().getitem(obj, argument)


_clock = threading.local()


def start_clock() -> None:
    """Start the time budget of one evaluation (in this thread)."""
    _clock.deadline = time.monotonic() + TIME_LIMIT


def stop_clock() -> None:
    _clock.deadline = float("inf")


def check_time() -> None:
    if time.monotonic() > getattr(_clock, "deadline", float("inf")):
        raise SecurityError(f"the expression took more than {TIME_LIMIT:g}s")


def check_length(value: Any) -> None:
    """Refuse a rendered text (or sequence) longer than :data:`MAX_LENGTH`."""
    if isinstance(value, _SEQUENCES) and len(value) > MAX_LENGTH:
        raise SecurityError(f"its value has {len(value):,} items, more than {MAX_LENGTH:,}")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
        _check_bits(operator, left, right, right * left.bit_length())
    elif operator == "*" and _is_int(left) and _is_int(right):
        _check_bits(operator, left, right, left.bit_length() + right.bit_length())
    elif operator == "*" and isinstance(left, _SEQUENCES) and _is_int(right):
        _check_repeat(left, right)
    elif operator == "*" and isinstance(right, _SEQUENCES) and _is_int(left):
        _check_repeat(right, left)
    elif operator == "%" and isinstance(left, str):
        _check_format(left, _PERCENT_SIZE)


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _check_bits(operator: str, left: int, right: int, bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise SecurityError(
            f"{_short(left)} {operator} {_short(right)} would have about {bits:,} bits,"
            f" more than the {MAX_INT_BITS:,} an expression may compute"
        )


def _check_repeat(sequence: Any, times: int) -> None:
    if len(sequence) * times > MAX_LENGTH:
        raise SecurityError(
            f"repeating {len(sequence):,} items {_short(times)} times makes more than"
            f" {MAX_LENGTH:,}"
        )


def _check_sizes(name: str, args: tuple[Any, ...]) -> None:
    for arg in args:
        if _is_int(arg) and arg > MAX_LENGTH:
            raise SecurityError(f"{name}() of {_short(arg)} exceeds the size limit {MAX_LENGTH:,}")


def _check_format(template: str, sizes: re.Pattern[str]) -> None:
    for match in sizes.finditer(template):
        for size in match.groups():
            if size in ("*", "{") or (size and int(size) > MAX_LENGTH):
                raise SecurityError(f"format widths must be written out and at most {MAX_LENGTH:,}")


def _short(number: int) -> str:
    text = str(number) if number.bit_length() < 64 else f"a {number.bit_length():,}-bit number"
    return text


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja_pass_arg: Jinja passes the context as before
    def bounded(*args: Any, **kwargs: Any) -> Any:
        check_time()
        if name in _SIZED_FILTERS:
            _check_sizes(name, (*args[1:], *kwargs.values()))
        elif name == "format" and args and isinstance(args[0], str):
            _check_format(args[0], _PERCENT_SIZE)
        return function(*args, **kwargs)

    return bounded
