"""`nestr webhooks list|test|deliveries|redeliver|enable|run` over a real store and receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.watchers.receiver import OTHER_SECRET, SECRET, receiving
from tests.watchers.webhook_helpers import append, dispatch, endpoint, eventually, logged

from nestr.store.db import open_database
from nestr.watchers.webhooks import outbox


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NESTR_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def configure(url: str, *, secrets: str = SECRET) -> None:
    Path("nestr.config.yaml").write_text(
        f"webhooks:\n  ci:\n    url: {url}\n    secret: {secrets}\n    types: [nestr.]\n",
        encoding="utf-8",
    )


def test_list_shows_each_endpoint_without_its_secrets(state: Path, nestr) -> None:  # type: ignore[no-untyped-def]
    """`list --json` names each endpoint, hides a URL password, counts secrets (never shows
    them) and says whether it is enabled; before any dispatcher the cursor is null."""
    configure("http://user:pw@127.0.0.1:9/hook", secrets=f"[{SECRET}, {OTHER_SECRET}]")
    result = nestr("webhooks", "list", "--json")
    assert result.code == 0, result
    (row,) = json.loads(result.out)["webhooks"]
    assert row == {
        "name": "ci",
        "url": "http://user:***@127.0.0.1:9/hook",
        "types": ["nestr."],
        "secrets": 2,
        "enabled": True,
        "disabled_at": None,
        "disabled_reason": None,
        "cursor": None,
        "counts": {"pending": 0, "delivered": 0, "failed": 0},
    }
    assert "MfKQ9r8" not in nestr("webhooks", "list").out


def test_test_sends_one_verified_event_and_reports_the_answer(state: Path, nestr) -> None:  # type: ignore[no-untyped-def]
    """`test NAME` POSTs a signed nestr.webhook.test CloudEvent and exits 0 on 2xx, 1 else."""
    with receiving() as receiver:
        configure(receiver.url)
        result = nestr("webhooks", "test", "ci", "--json")
        assert result.code == 0, result
        (got,) = receiver.verified()
    report = json.loads(result.out)
    assert (report["status"], report["ok"], report["webhook_id"]) == (200, True, got.webhook_id)
    assert got.event is not None
    assert got.event["type"] == "nestr.webhook.test"
    assert got.event["data"] == {"endpoint": "ci"}
    with receiving(script=lambda _r, _b: 500) as failing:
        configure(failing.url)
        result = nestr("webhooks", "test", "ci")
    assert result.code == 1
    assert "HTTP 500" in result.err
    assert logged(state, "nestr.webhook.") == []  # a test is never stored


def test_an_unknown_endpoint_or_status_is_a_usage_error(state: Path, nestr) -> None:  # type: ignore[no-untyped-def]
    """A misspelt endpoint name lists the configured ones; an unknown status the known ones."""
    configure("http://127.0.0.1:9/hook")
    result = nestr("webhooks", "test", "cj")
    assert result.code == 2
    assert "no webhook named 'cj'" in result.err
    assert "configured: ci" in result.err
    result = nestr("webhooks", "deliveries", "--status", "done")
    assert result.code == 2
    assert "pending, delivered, failed" in result.err


def test_run_without_endpoints_is_a_usage_error(state: Path, nestr) -> None:  # type: ignore[no-untyped-def]
    """`webhooks run` with nothing configured says how to configure an endpoint."""
    result = nestr("webhooks", "run")
    assert result.code == 2
    assert "webhooks:" in result.err


def test_deliveries_and_redeliver_send_again_with_the_same_id(state: Path, nestr) -> None:  # type: ignore[no-untyped-def]
    """`deliveries --json` lists the outbox; `redeliver ID` queues a delivered event again
    and the next dispatcher sends it with the webhook-id it had."""
    with receiving() as receiver:
        configure(receiver.url)
        hooks = [endpoint(receiver.url)]
        dispatch(
            state,
            hooks,
            lambda: eventually(lambda: len(logged(state, "nestr.webhook.")) >= 2),
            before=lambda: append(state, 2),
        )
        listed = nestr("webhooks", "deliveries", "--json", "--status", "delivered")
        rows = json.loads(listed.out)["deliveries"]
        assert [(r["event_seq"], r["status"], r["attempts"]) for r in rows] == [
            (2, "delivered", 1),
            (1, "delivered", 1),
        ]
        assert set(rows[0]) == {
            "id", "endpoint", "event_seq", "event_type", "webhook_id", "status", "attempts",
            "next_attempt", "created", "finished", "http_status", "error",
        }  # fmt: skip
        other = nestr("webhooks", "deliveries", "--json", "--endpoint", "other")
        assert json.loads(other.out) == {"deliveries": []}
        first = rows[1]
        again = nestr("webhooks", "redeliver", str(first["id"]), "--json")
        assert json.loads(again.out)["status"] == "pending"
        dispatch(state, hooks, lambda: receiver.wait_for(lambda: len(receiver.requests) >= 3))
        got = receiver.verified()
    assert [r.seq for r in got] == [1, 2, 1]
    assert got[2].webhook_id == got[0].webhook_id == first["webhook_id"]
    assert nestr("webhooks", "redeliver", "999").code == 2


def test_enable_lets_a_disabled_endpoint_receive_again(state: Path, nestr) -> None:  # type: ignore[no-untyped-def]
    """After a 410, `list` shows the endpoint disabled and `enable NAME` enables it."""
    configure("http://127.0.0.1:9/hook")
    db = open_database(state)
    outbox.endpoint_state(db, "ci", start=0)
    outbox.disable(db, "ci", url="http://127.0.0.1:9/hook", reason="HTTP 410")
    db.close()
    (row,) = json.loads(nestr("webhooks", "list", "--json").out)["webhooks"]
    assert (row["enabled"], row["disabled_reason"]) == (False, "HTTP 410")
    assert "DISABLED (HTTP 410)" in nestr("webhooks", "list").out
    assert nestr("webhooks", "enable", "ci").out == "ci enabled\n"
    (row,) = json.loads(nestr("webhooks", "list", "--json").out)["webhooks"]
    assert row["enabled"] is True
    assert nestr("webhooks", "enable", "ci").out == "ci was not disabled\n"


def test_redeliver_and_enable_leave_an_audit_record(state: Path, nestr) -> None:  # type: ignore[no-untyped-def]
    """The two commands that change the outbox each leave one audit record; reads leave none."""
    configure("http://127.0.0.1:9/hook")
    db = open_database(state)
    outbox.endpoint_state(db, "ci", start=0)
    outbox.disable(db, "ci", url="http://127.0.0.1:9/hook", reason="HTTP 410")
    db.close()
    nestr("webhooks", "list")
    nestr("webhooks", "deliveries")
    assert nestr("webhooks", "enable", "ci").code == 0
    assert nestr("webhooks", "enable", "ci").code == 0
    assert nestr("webhooks", "redeliver", "7").code == 2
    records = json.loads(nestr("audit", "list", "--json").out)
    assert [(r["action"], r["outcome"], r["target"]) for r in records] == [
        ("webhooks.enable", "ok", {"endpoint": "ci"}),
        ("webhooks.enable", "refused", {"endpoint": "ci"}),
        ("webhooks.redeliver", "refused", {"delivery": 7}),
    ]


def test_webhooks_commands_run_only_on_this_machine(state: Path, nestr) -> None:  # type: ignore[no-untyped-def]
    """With --server the webhooks commands are refused: they act on this machine's store."""
    configure("http://127.0.0.1:9/hook")
    result = nestr("--server", "127.0.0.1:1", "webhooks", "list")
    assert result.code == 2
    assert "works on this machine only" in result.err
