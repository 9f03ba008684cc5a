"""The event envelope every nestr operation emits.

Aligned with CloudEvents 1.0 (``id``, ``source``, ``type``, ``subject``, ``time``) plus nestr's own
fields. ``to_cloudevent``/``from_cloudevent`` map losslessly to a CloudEvents JSON object, whose
extension attribute names must be lower-case alphanumerics: ``seq`` → ``seq``, ``run_id`` →
``runid``, ``correlation_id`` → ``correlationid``.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Severity = Literal["debug", "info", "warning", "error"]
SPEC_VERSION = "1.0"
_SOURCE = f"nestr://{socket.gethostname()}/{os.getpid()}"

# envelope field -> CloudEvents extension attribute
_EXTENSIONS = {
    "seq": "seq",
    "run_id": "runid",
    "step": "step",
    "repo": "repo",
    "correlation_id": "correlationid",
    "traceparent": "traceparent",
    "severity": "severity",
}


def process_source() -> str:
    """The ``source`` of the events this process makes: ``nestr://HOST/PID``."""
    return _SOURCE


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    """128 random bits from the operating system, as 32 hex digits (``uuid4().hex`` without
    building a UUID object: a fifth of the cost, and an id is made for every event)."""
    return os.urandom(16).hex()


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. ``seq`` is set by the durable log (gap-free per log)."""

    type: str  # e.g. "nestr.workspace.repo.fetched"
    data: dict[str, Any] = field(default_factory=dict)
    subject: str | None = None
    run_id: str | None = None
    step: str | None = None
    repo: str | None = None
    correlation_id: str | None = None
    traceparent: str | None = None
    severity: Severity = "info"
    seq: int | None = None
    id: str = field(default_factory=_new_id)
    source: str = _SOURCE
    time: datetime = field(default_factory=_now)

    def with_seq(self, seq: int) -> Event:
        """This event numbered ``seq`` by the log. Its constructor is called directly, a third
        of what ``dataclasses.replace`` costs: the log numbers two events per workflow step."""
        return Event(
            type=self.type,
            data=self.data,
            subject=self.subject,
            run_id=self.run_id,
            step=self.step,
            repo=self.repo,
            correlation_id=self.correlation_id,
            traceparent=self.traceparent,
            severity=self.severity,
            seq=seq,
            id=self.id,
            source=self.source,
            time=self.time,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``time`` as RFC 3339 text."""
        out = asdict(self)
        out["time"] = self.time.isoformat()
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        values = dict(raw)
        values["time"] = datetime.fromisoformat(values["time"])
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Event:
        return cls.from_dict(json.loads(text))

    def to_cloudevent(self) -> dict[str, Any]:
        """A CloudEvents 1.0 JSON-format object (structured mode)."""
        ce: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time.isoformat(),
            "datacontenttype": "application/json",
            "data": self.data,
        }
        if self.subject is not None:
            ce["subject"] = self.subject
        for attr, ext in _EXTENSIONS.items():
            value = getattr(self, attr)
            if value is not None:
                ce[ext] = value
        return ce

    @classmethod
    def from_cloudevent(cls, ce: dict[str, Any]) -> Event:
        if ce.get("specversion") != SPEC_VERSION:
            raise ValueError(f"unsupported CloudEvents specversion {ce.get('specversion')!r}")
        values: dict[str, Any] = {
            "id": ce["id"],
            "source": ce["source"],
            "type": ce["type"],
            "time": datetime.fromisoformat(ce["time"]),
            "subject": ce.get("subject"),
            "data": ce.get("data") or {},
        }
        for attr, ext in _EXTENSIONS.items():
            if ext in ce:
                values[attr] = ce[ext]
        return cls(**values)
