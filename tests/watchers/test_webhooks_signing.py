"""nestr's Standard Webhooks signatures agree with the reference library, and the retry
policy is what docs/webhooks.md says."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from nestr.watchers.webhooks.policy import Answer, backoff, verdict
from nestr.watchers.webhooks.signing import signature, signed_headers, webhook_id

keys = st.binary(min_size=1, max_size=64)
ids = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1)
times = st.integers(min_value=0, max_value=4_000_000_000)


@given(key=keys, msg_id=ids, timestamp=times, body=st.binary(max_size=512))
def test_each_signature_is_the_reference_librarys(
    key: bytes, msg_id: str, timestamp: int, body: bytes
) -> None:
    """For any key, id, time and body, the v1 signature equals standardwebhooks' sign()."""
    expected = Webhook(key).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body)
    assert signature(key, msg_id, timestamp, body) == expected


@given(key=keys, padded=st.booleans())
def test_whsec_secrets_padded_or_not_verify(key: bytes, padded: bool) -> None:
    """A whsec_ secret, with or without base64 padding, signs what the library verifies."""
    encoded = base64.b64encode(key).decode()
    secret = "whsec_" + (encoded if padded else encoded.rstrip("="))
    now = int(datetime.now(UTC).timestamp())
    headers = signed_headers([secret], "msg_1", now, b'{"a":1}')
    assert Webhook(secret).verify(b'{"a":1}', headers) == {"a": 1}


def test_two_secrets_give_two_signatures_either_verifies() -> None:
    """While a secret is rotated both sign; a receiver knowing either one verifies."""
    old, new = (
        "whsec_" + base64.b64encode(b"old").decode(),
        "whsec_" + base64.b64encode(b"new").decode(),
    )
    now = int(datetime.now(UTC).timestamp())
    headers = signed_headers([old, new], "msg_2", now, b"{}")
    assert headers["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        assert Webhook(secret).verify(b"{}", headers) == {}
    stranger = "whsec_" + base64.b64encode(b"stranger").decode()
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(stranger).verify(b"{}", headers)


def test_a_webhook_id_is_stable_per_event_and_endpoint() -> None:
    """The same event to the same endpoint has one id; another endpoint or event another."""
    assert webhook_id("ci", "e1") == webhook_id("ci", "e1")
    assert len({webhook_id("ci", "e1"), webhook_id("ops", "e1"), webhook_id("ci", "e2")}) == 3
    assert webhook_id("ci", "e1").startswith("msg_")


@pytest.mark.parametrize(
    ("answer", "attempt", "expected"),
    [
        (Answer(200), 1, "delivered"),
        (Answer(204), 9, "delivered"),
        (Answer(410), 1, "disable"),
        (Answer(500), 1, "retry"),
        (Answer(404), 2, "retry"),
        (Answer(301), 2, "retry"),
        (Answer(None, "timed out"), 2, "retry"),
        (Answer(500), 3, "dead"),
        (Answer(None, "connection refused"), 3, "dead"),
    ],
)
def test_what_an_answer_means(answer: Answer, attempt: int, expected: str) -> None:
    """2xx delivers, 410 disables, anything else retries until max_attempts (3 here)."""
    assert verdict(answer, attempt, max_attempts=3) == expected


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    """Try n waits between half and all of min(cap, initial·2^(n-1)), never more."""
    rng = random.Random(1)
    for attempt in range(1, 30):
        full = min(60.0, 0.5 * 2 ** (attempt - 1))
        waits = [backoff(attempt, initial=0.5, cap=60.0, rng=rng) for _ in range(50)]
        assert all(full / 2 <= w <= full for w in waits)
        assert len(set(waits)) > 1  # jittered
    assert backoff(10_000, initial=1.0, cap=5.0, rng=rng) <= 5.0
