"""What ``nestr webhooks list|test|enable|redeliver`` ask of the configured endpoints.

The CLI renders these; they read and change the outbox through ``outbox`` and send a test
through ``sender``, so a face never touches the store itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nestr.errors import NotFound, UsageError, did_you_mean
from nestr.events.catalog import WEBHOOK_TEST
from nestr.redaction import redact_url
from nestr.watchers.webhooks import outbox
from nestr.watchers.webhooks.payload import cloudevent_body
from nestr.watchers.webhooks.policy import Answer
from nestr.watchers.webhooks.sender import Sender
from nestr.watchers.webhooks.signing import signed_headers, webhook_id

if TYPE_CHECKING:
    from nestr.config.settings import WebhookEndpoint
    from nestr.store.db import Database


@dataclass(frozen=True, slots=True)
class EndpointView:
    """One configured endpoint as ``nestr webhooks list --json`` shows it."""

    name: str
    url: str  # a password in it is hidden
    types: tuple[str, ...]
    secrets: int  # how many secrets sign (2 while one is rotated); never the secrets
    enabled: bool
    disabled_at: float | None
    disabled_reason: str | None
    cursor: int | None  # last event seq looked at; None before a dispatcher first ran
    counts: dict[str, int]  # deliveries per status

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}
        out["types"] = list(self.types)
        return out


def find(endpoints: Sequence[WebhookEndpoint], name: str) -> WebhookEndpoint:
    """The endpoint configured as ``webhooks.<name>``."""
    for endpoint in endpoints:
        if endpoint.name == name:
            return endpoint
    names = [e.name for e in endpoints]
    raise NotFound(
        f"no webhook named {name!r}",
        hint=did_you_mean(name, names)
        or ("configured: " + ", ".join(names) if names else "configure one under `webhooks:`"),
    )


def views(db: Database, endpoints: Sequence[WebhookEndpoint]) -> list[EndpointView]:
    """Every configured endpoint with its state in the store."""
    states = outbox.known_states(db)
    counts = outbox.counts(db)
    out = []
    for endpoint in endpoints:
        state = states.get(endpoint.name)
        # disabled at another URL: the next dispatcher enables it (a new receiver)
        disabled = state is not None and state.disabled_at(endpoint.url)
        out.append(
            EndpointView(
                name=endpoint.name,
                url=redact_url(endpoint.url),
                types=endpoint.types,
                secrets=len(endpoint.secret),
                enabled=not disabled,
                disabled_at=state.disabled if disabled and state else None,
                disabled_reason=state.disabled_reason if disabled and state else None,
                cursor=None if state is None else state.cursor,
                counts=counts.get(endpoint.name, dict.fromkeys(outbox.STATUSES, 0)),
            )
        )
    return out


def enable(db: Database, endpoints: Sequence[WebhookEndpoint], name: str) -> bool:
    """Enable endpoint ``name`` again after a 410; False if it was not disabled."""
    find(endpoints, name)
    return outbox.enable(db, name)


def redeliver(db: Database, delivery_id: int) -> outbox.Delivery:
    """Queue delivery ``delivery_id`` again; a running dispatcher sends it within a second."""
    found = outbox.redeliver(db, delivery_id)
    if found is None:
        raise NotFound(f"no webhook delivery {delivery_id}", hint="see `nestr webhooks deliveries`")
    return found


@dataclass(frozen=True, slots=True)
class TestResult:
    """How a test delivery ended."""

    endpoint: str
    webhook_id: str
    status: int | None
    error: str | None
    ok: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def send_test(endpoint: WebhookEndpoint) -> TestResult:
    """POST one signed ``nestr.webhook.test`` event to ``endpoint`` now (no outbox, no retry,
    nothing stored), blocking."""
    event = WEBHOOK_TEST.event({"endpoint": endpoint.name}, subject=endpoint.name)
    body = cloudevent_body(event).encode("utf-8")
    msg_id = webhook_id(endpoint.name, event.id)
    secrets = [s.get_secret_value() for s in endpoint.secret]
    sender = Sender(endpoint.url, endpoint.timeout)
    started = time.perf_counter()
    try:
        answer: Answer = sender.post(body, signed_headers(secrets, msg_id, int(time.time()), body))
    finally:
        sender.close()
    ok = answer.status is not None and 200 <= answer.status < 300
    error = None if ok else answer.describe()
    seconds = round(time.perf_counter() - started, 3)
    return TestResult(endpoint.name, msg_id, answer.status, error, ok, seconds)


def check_status(status: str | None) -> outbox.Status | None:
    """A ``--status`` filter, checked."""
    if status is None:
        return None
    for known in outbox.STATUSES:
        if status == known:
            return known
    raise UsageError(
        f"unknown delivery status {status!r}", hint="one of " + ", ".join(outbox.STATUSES)
    )
