"""Durations as people write them, in workflow files and on the command line (``--ttl``):
``10m``, ``1s``, ``1h30m``, ``250ms``, ``2d``, ``1w`` (a number alone is seconds only as a YAML
number: text needs its unit, so ``"10"`` is not silently ten seconds)."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
MAX_SECONDS = 365 * 86400
"""Longest duration accepted: anything longer is a mistake (or ``inf``), not a timeout."""


def parse_duration(value: object) -> float:
    """Seconds in ``value``: a number (seconds) or text such as ``1h30m``; ValueError if bad."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 10m, 1s or 1h30m; got {value!r}")
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            raise ValueError("a duration must be a number of seconds; got nan")
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded(value)
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
            f"bad duration {value[:60]!r}: expected a number and unit (ms, s, m, h, d, w), "
            "e.g. 10m, 1s or 1h30m"
        )
    return _bounded(total)


def _bounded(seconds: int | float) -> float:
    # Compared before float(): an int of 309 digits or more has no float (OverflowError), and
    # an infinite or absurd timeout would only fail later, inside the executor.
    if seconds > MAX_SECONDS:
        raise ValueError(f"a duration can be at most 365d ({MAX_SECONDS} seconds)")
    return float(seconds)


def format_duration(seconds: float) -> str:
    """``75.2`` → ``1m15s``; short durations keep one decimal (``0.4s``)."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"
