"""Step outputs written to ``$NESTR_OUTPUT`` as ``key=value`` lines, as GitHub Actions does.

A multi-line value uses a delimiter: ``key<<EOF``, the lines, then ``EOF`` alone on a line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from nestr.workflow.protocols import StepFailed

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def parse_outputs(text: str) -> dict[str, str]:
    """The outputs in ``text``; a malformed line fails the step with its line number."""
    outputs: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            body, index = _until(lines, index, delimiter.strip(), key)
            outputs[_check(key.strip(), index)] = body
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise StepFailed(f"$NESTR_OUTPUT line {index}: expected key=value, got {line!r}")
        outputs[_check(key.strip(), index)] = value
    return outputs


def _until(lines: list[str], index: int, delimiter: str, key: str) -> tuple[str, int]:
    body: list[str] = []
    while index < len(lines):
        if lines[index] == delimiter:
            return "\n".join(body), index + 1
        body.append(lines[index])
        index += 1
    raise StepFailed(f"$NESTR_OUTPUT: output {key.strip()!r} never ends (no {delimiter!r} line)")


def _check(key: str, line: int) -> str:
    if not _KEY.match(key):
        raise StepFailed(f"$NESTR_OUTPUT line {line}: {key!r} is not a valid output name")
    return key


def read_outputs(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return {}
    return parse_outputs(text)


def take_outputs(path: Path) -> dict[str, str]:
    """The outputs in ``path`` (none when there is no file), removing the file once read."""
    # Most steps write no outputs: a cheap existence check spares a failed open and its
    # exception on every step.
    if not os.access(path, os.F_OK):
        return {}
    text = path.read_text(encoding="utf-8", errors="replace")
    path.unlink(missing_ok=True)
    return parse_outputs(text)
