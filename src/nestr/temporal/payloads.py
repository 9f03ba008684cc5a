"""What a step's result keeps out of Temporal history: large outputs and long errors.

Every payload stays in the run's history, which workers replay and Temporal caps (2 MB a
payload, by default): a step's result carries its outputs up to ``temporal.inline_outputs``
bytes and its error up to ``ERROR_LIMIT`` characters. Outputs past the bound are written to
the producing worker's store (``STATE_DIR/runs/RUN/outputs/``) and cross history as
:class:`~nestr.temporal.shapes.StoredOutput` references. A step whose expressions read one
resolves it from that file, which any worker on the same host can read; a worker that
cannot read it (another host) fails the step with an error naming the output, the host that
holds it and the setting to raise — fetching it through Temporal would put the value back into
a history. A cut error says where its whole text is: in the worker's event log.
"""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from nestr.atomicfile import write_atomic
from nestr.errors import WorkFailed
from nestr.temporal.shapes import LogPlace, StoredOutput

ERROR_LIMIT = 4000  # characters of a step's error that travel in history
SETTING = "temporal.inline_outputs"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class StoredOutputUnreadable(WorkFailed):
    """A step reads an output kept in a store this worker cannot read (another host's)."""


def bounded_error(text: str, place: LogPlace) -> str:
    """``text``, cut to ``ERROR_LIMIT`` characters with a marker saying where the rest is."""
    if len(text) <= ERROR_LIMIT:
        return text
    left = len(text) - ERROR_LIMIT
    return (
        f"{text[:ERROR_LIMIT]}\n[… {left} more characters cut: the whole error is in the"
        f" event log of the worker on host {place.host} ({place.state_dir})]"
    )


def split_outputs(
    outputs: Mapping[str, str], bound: int, directory: Path, host: str
) -> tuple[dict[str, str], dict[str, StoredOutput]]:
    """The outputs that travel inline — the smallest first, while their total fits ``bound``
    bytes — and references to the others, written under ``directory``."""
    sizes = {name: len(name.encode()) + len(value.encode()) for name, value in outputs.items()}
    room, kept = bound, set()
    for name in sorted(outputs, key=sizes.__getitem__):
        if sizes[name] > room:
            break
        kept.add(name)
        room -= sizes[name]
    inline = {name: value for name, value in outputs.items() if name in kept}
    stored = {
        name: _store(directory, name, value, host)
        for name, value in outputs.items()
        if name not in kept
    }
    return inline, stored


def _store(directory: Path, name: str, value: str, host: str) -> StoredOutput:
    data = value.encode()
    file = name if _SAFE_NAME.fullmatch(name) else hashlib.sha256(name.encode()).hexdigest()[:32]
    path = directory / file
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    return StoredOutput(host=host, path=str(path), size=len(data))


def read_stored(key: str, name: str, ref: StoredOutput) -> str:
    """The value ``ref`` names (output ``name`` of step ``key``); an error saying where it is
    and what to change when this host cannot read it."""
    try:
        data = Path(ref.path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
    else:
        if len(data) == ref.size:
            return data.decode()
        reason = f"it has {len(data)} bytes, not {ref.size}"
    raise StoredOutputUnreadable(
        f"output {name!r} of step {key} ({ref.size} bytes) is kept on host {ref.host}"
        f" ({ref.path}), which this worker on host {socket.gethostname()} cannot read"
        f" ({reason}): run the steps that read it on that host, or raise {SETTING} on"
        f" the workers above {ref.size} bytes so that it travels in history"
    )


class WithStored(Mapping[str, str]):
    """One step's outputs, inline and stored; a stored one is read when first looked up, so
    only the outputs an expression reads are fetched (and only they can fail)."""

    def __init__(self, key: str, inline: Mapping[str, str], stored: Mapping[str, Any]) -> None:
        self._key = key
        self._values = dict(inline)
        self._stored = {name: stored_output(ref) for name, ref in stored.items()}

    def __getitem__(self, name: str) -> str:
        if name not in self._values and name in self._stored:
            self._values[name] = read_stored(self._key, name, self._stored[name])
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._values
        yield from (name for name in self._stored if name not in self._values)

    def __len__(self) -> int:
        return len(self._values.keys() | self._stored.keys())


def scope_outputs(
    outputs: Mapping[str, Mapping[str, str]], stored: Mapping[str, Mapping[str, Any]]
) -> dict[str, Mapping[str, str]]:
    """The outputs a step's scope reads: each step's inline ones, with its stored ones
    resolved on demand."""
    found: dict[str, Mapping[str, str]] = dict(outputs)
    for key, refs in stored.items():
        if refs:
            found[key] = WithStored(key, outputs.get(key, {}), refs)
    return found


def recorded_outputs(inline: Mapping[str, str], stored: Mapping[str, Any]) -> dict[str, str]:
    """A step's outputs as the submitter records them: the stored ones read when this host
    can, else their reference, shown as such."""
    found = dict(inline)
    for name, raw in stored.items():
        ref = stored_output(raw)
        try:
            found[name] = read_stored("", name, ref)
        except StoredOutputUnreadable:
            found[name] = f"<stored on host {ref.host}: {ref.path}, {ref.size} bytes>"
    return found


def stored_output(raw: StoredOutput | Mapping[str, Any]) -> StoredOutput:
    """``raw`` as a :class:`StoredOutput` (a query's answer may give it as a mapping)."""
    return raw if isinstance(raw, StoredOutput) else StoredOutput(**raw)


def log_place(raw: LogPlace | Mapping[str, Any] | None) -> LogPlace | None:
    """``raw`` as a :class:`LogPlace` (a failure's details give it as a mapping)."""
    if raw is None or isinstance(raw, LogPlace):
        return raw
    return LogPlace(**raw)
