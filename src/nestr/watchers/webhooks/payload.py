"""The body of a webhook request: an event as one CloudEvents 1.0 JSON object.

Structured mode (``application/cloudevents+json``): the attributes and ``data`` in one object,
the extensions named as CloudEvents requires (``nestr.events.envelope``). Rendered once, when
the event enters the outbox, so every try sends the same bytes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nestr.events.envelope import Event


def cloudevent_body(event: Event) -> str:
    """``event`` as compact CloudEvents JSON, keys sorted."""
    return json.dumps(event.to_cloudevent(), sort_keys=True, separators=(",", ":"), default=str)
