"""Durations as people write them in workflow files: ``10m``, ``1s``, ``1h30m``, ``250ms``."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Seconds in ``value``: a number (seconds) or text such as ``1h30m``; ValueError if bad."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 10m, 1s or 1h30m; got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative; got {value}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 10m, 1s or 1h30m; got {value!r}")
    text = value.strip().replace(" ", "")
    position, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise ValueError(
            f"bad duration {value!r}: expected a number and unit (ms, s, m, h, d), "
            "e.g. 10m, 1s or 1h30m"
        )
    return total


def format_duration(seconds: float) -> str:
    """``75.2`` → ``1m15s``; short durations keep one decimal (``0.4s``)."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"
