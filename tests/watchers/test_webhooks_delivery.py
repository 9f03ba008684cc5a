"""The dispatcher delivers the event log to a real HTTP receiver on 127.0.0.1, which verifies
every request with the ``standardwebhooks`` reference library."""

from __future__ import annotations

from pathlib import Path

from tests.watchers.receiver import OTHER_SECRET, SECRET, Received, receiving
from tests.watchers.webhook_helpers import append, dispatch, endpoint, eventually, logged

from nestr.store.db import open_database
from nestr.store.eventlog import open_event_log
from nestr.watchers.webhooks import outbox


def test_every_event_arrives_signed_as_a_cloudevent_in_seq_order(tmp_path: Path) -> None:
    """Each event reaches the endpoint once, in seq order, as a verified CloudEvents 1.0
    structured-mode body carrying the event's id, type, data and extensions."""
    state = tmp_path / "state"
    with receiving() as receiver:
        hooks = [endpoint(receiver.url)]
        events: list = []
        dispatch(
            state,
            hooks,
            lambda: receiver.wait_for(lambda: len(receiver.requests) >= 20),
            before=lambda: events.extend(append(state, 20)),
        )
        got = receiver.verified()
    assert [r.seq for r in got] == [e.seq for e in events]
    first, sent = got[0], events[0]
    assert first.event == {
        "specversion": "1.0",
        "id": sent.id,
        "source": sent.source,
        "type": sent.type,
        "time": sent.time.isoformat(),
        "datacontenttype": "application/json",
        "data": sent.data,
        "seq": sent.seq,
        "runid": "run1",
        "correlationid": "c0ffee",
        "severity": "info",
    }
    assert first.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert len({r.webhook_id for r in got}) == 20


def test_webhook_events_are_logged_but_never_delivered(tmp_path: Path) -> None:
    """Each delivery appends nestr.webhook.delivered to the log, and no event of the
    nestr.webhook. family is ever sent to a webhook (no feedback loop)."""
    state = tmp_path / "state"
    with receiving() as receiver:
        dispatch(
            state,
            [endpoint(receiver.url)],
            lambda: eventually(lambda: len(logged(state, "nestr.webhook.")) >= 3),
            before=lambda: append(state, 3),
        )
        # a second run reads the three nestr.webhook.delivered events before the next one
        append(state, 1)
        dispatch(
            state,
            [endpoint(receiver.url)],
            lambda: eventually(lambda: len(logged(state, "nestr.webhook.")) >= 4),
        )
        sent_types = {r.event["type"] for r in receiver.verified() if r.event}
        assert [r.seq for r in receiver.verified()] == [1, 2, 3, 7]
    delivered = logged(state, "nestr.webhook.")
    assert sent_types == {"nestr.workflow.step.log"}
    assert [e.type for e in delivered][:3] == ["nestr.webhook.delivered"] * 3
    assert delivered[0].data == {"endpoint": "ci", "status": 200, "attempt": 1, "event_seq": 1}
    assert delivered[0].correlation_id == "c0ffee"  # the action of the event delivered


def test_server_errors_are_retried_with_the_same_webhook_id_in_order(tmp_path: Path) -> None:
    """Two 500s per event then a 200: every event is accepted, in seq order, and each
    event's three tries carry one webhook-id; each failure is logged with its attempt."""
    state = tmp_path / "state"

    def flaky(_request: Received, before: int) -> int:
        return 500 if before < 2 else 200

    with receiving(script=flaky) as receiver:
        dispatch(
            state,
            [endpoint(receiver.url)],
            lambda: receiver.wait_for(lambda: len(receiver.accepted()) >= 5),
            before=lambda: append(state, 5),
        )
        got = receiver.verified()
    assert receiver.accepted() == [1, 2, 3, 4, 5]
    assert [r.seq for r in got] == [n for n in range(1, 6) for _ in range(3)]
    for seq in range(1, 6):
        assert len({r.webhook_id for r in got if r.seq == seq}) == 1
    log = open_event_log(state)
    failed = log.read(0, "nestr.webhook.failed")
    log.close()
    assert [(e.data["event_seq"], e.data["attempt"]) for e in failed][:2] == [(1, 1), (1, 2)]
    assert failed[0].data["error"] == "HTTP 500"
    assert failed[0].data["final"] is False
    assert failed[0].severity == "warning"


def test_a_slow_receiver_times_out_and_the_event_is_sent_again(tmp_path: Path) -> None:
    """A receiver that does not answer within `timeout` counts as a failed try: the event is
    sent again with the same webhook-id and the next events follow in order."""
    state = tmp_path / "state"

    def slow_first(_request: Received, before: int) -> int:
        return -1 if before == 0 and _request.seq == 1 else 200  # -1: hang until released

    with receiving(script=slow_first) as receiver:
        dispatch(
            state,
            [endpoint(receiver.url, timeout=2.0)],
            lambda: eventually(lambda: len(logged(state, "nestr.webhook.delivered")) >= 2),
            before=lambda: append(state, 2),
        )
        got = receiver.verified()
    assert [r.seq for r in got] == [1, 1, 2]
    assert got[0].webhook_id == got[1].webhook_id
    db = open_database(state)
    rows = sorted(outbox.deliveries(db), key=lambda d: d.event_seq)
    db.close()
    assert [(d.status, d.attempts) for d in rows] == [("delivered", 2), ("delivered", 1)]
    log = open_event_log(state)
    failed = log.read(0, "nestr.webhook.failed")
    log.close()
    assert failed[0].data["status"] is None
    assert failed[0].data["error"] == "timed out after 2 s"


def test_a_delivery_that_keeps_failing_is_dead_and_the_next_goes_on(tmp_path: Path) -> None:
    """After max_attempts failed tries a delivery is marked failed (final in its event) and
    the endpoint's next event is delivered."""
    state = tmp_path / "state"

    def first_broken(request: Received, _before: int) -> int:
        return 503 if request.seq == 1 else 200

    with receiving(script=first_broken) as receiver:
        dispatch(
            state,
            [endpoint(receiver.url, max_attempts=3)],
            lambda: eventually(lambda: logged(state, "nestr.webhook.delivered")),
            before=lambda: append(state, 2),
        )
    db = open_database(state)
    rows = {d.event_seq: d for d in outbox.deliveries(db)}
    db.close()
    assert (rows[1].status, rows[1].attempts, rows[1].http_status) == ("failed", 3, 503)
    assert rows[2].status == "delivered"
    log = open_event_log(state)
    failed = log.read(0, "nestr.webhook.failed")
    log.close()
    assert [e.data["final"] for e in failed] == [False, False, True]


def test_410_gone_disables_the_endpoint_until_enabled(tmp_path: Path) -> None:
    """A 410 disables the endpoint (recorded, event emitted) and nothing more is sent to it;
    once enabled, the refused event and the rest follow in order."""
    state = tmp_path / "state"
    gone = {"on": True}

    def gone_at_2(request: Received, _before: int) -> int:
        return 410 if request.seq == 2 and gone["on"] else 200

    with receiving(script=gone_at_2) as receiver:
        hooks = [endpoint(receiver.url)]
        log = open_event_log(state)

        def disabled() -> None:
            eventually(lambda: log.read(0, "nestr.webhook.disabled"))

        dispatch(state, hooks, disabled, before=lambda: append(state, 4))
        assert [r.seq for r in receiver.verified()] == [1, 2]
        db = open_database(state)
        assert outbox.known_states(db)["ci"].disabled is not None
        assert log.read(0, "nestr.webhook.disabled")[0].data["status"] == 410
        gone["on"] = False
        assert outbox.enable(db, "ci")
        db.close()
        log.close()
        dispatch(state, hooks, lambda: receiver.wait_for(lambda: len(receiver.accepted()) >= 4))
        assert receiver.accepted() == [1, 2, 3, 4]


def test_a_new_url_enables_an_endpoint_a_410_disabled(tmp_path: Path) -> None:
    """An endpoint disabled by a 410 is enabled again when its configured URL changes."""
    state = tmp_path / "state"
    with receiving(script=lambda _r, _b: 410) as old, receiving() as new:
        dispatch(
            state,
            [endpoint(old.url)],
            lambda: old.wait_for(lambda: len(old.requests) >= 1),
            before=lambda: append(state, 1),
        )
        dispatch(state, [endpoint(new.url)], lambda: new.wait_for(lambda: new.accepted() == [1]))


def test_rotation_signs_with_every_secret_and_each_receiver_verifies(tmp_path: Path) -> None:
    """With two secrets configured, a receiver that knows only one of them (either) verifies
    every delivery."""
    state = tmp_path / "state"
    both = (OTHER_SECRET, SECRET)
    with receiving(secret=SECRET) as knows_new, receiving(secret=OTHER_SECRET) as knows_old:
        hooks = [
            endpoint(knows_new.url, name="new", secrets=both),
            endpoint(knows_old.url, name="old", secrets=both),
        ]

        def both_have_three() -> None:
            knows_new.wait_for(lambda: len(knows_new.requests) >= 3)
            knows_old.wait_for(lambda: len(knows_old.requests) >= 3)

        dispatch(state, hooks, both_have_three, before=lambda: append(state, 3))
        for receiver in (knows_new, knows_old):
            got = receiver.verified()
            assert [r.seq for r in got] == [1, 2, 3]
            assert got[0].headers["webhook-signature"].count("v1,") == 2
        assert knows_new.requests[0].webhook_id != knows_old.requests[0].webhook_id


def test_types_filter_what_an_endpoint_gets(tmp_path: Path) -> None:
    """An endpoint with `types` gets only events whose type starts with one of them."""
    state = tmp_path / "state"
    with receiving() as receiver:
        hooks = [endpoint(receiver.url, types=("nestr.workflow.run.",))]

        def mixed() -> None:
            append(state, 2)
            append(state, 1, "nestr.workflow.run.started")

        dispatch(
            state,
            hooks,
            lambda: receiver.wait_for(lambda: len(receiver.requests) >= 1),
            before=mixed,
        )
        assert [r.event["type"] for r in receiver.verified() if r.event] == [
            "nestr.workflow.run.started"
        ]


def test_a_new_endpoint_starts_at_the_head_and_a_known_one_catches_up(tmp_path: Path) -> None:
    """Events from before an endpoint was first seen are not sent; events appended while no
    dispatcher ran are sent by the next one, once each."""
    state = tmp_path / "state"
    append(state, 2)  # before the endpoint existed
    with receiving() as receiver:
        hooks = [endpoint(receiver.url)]
        dispatch(
            state,
            hooks,
            lambda: eventually(lambda: logged(state, "nestr.webhook.")),
            before=lambda: append(state, 1),
        )
        append(state, 2)  # while no dispatcher runs
        dispatch(
            state, hooks, lambda: eventually(lambda: len(logged(state, "nestr.webhook.")) >= 3)
        )
        assert [r.seq for r in receiver.verified()] == [3, 5, 6]
    db = open_database(state)
    rows = outbox.deliveries(db)
    db.close()
    assert sorted((d.event_seq, d.status) for d in rows) == [
        (3, "delivered"),
        (5, "delivered"),
        (6, "delivered"),
    ]


def test_secrets_and_urls_never_reach_the_log(tmp_path: Path) -> None:
    """Failures and a 410 are logged with the endpoint's name and what went wrong, never its
    URL (which may hold a token) nor its secrets; nothing in the store holds either."""
    state = tmp_path / "state"
    with receiving() as receiver:
        closed = receiver.url + "?token=sekrit-refused"
    # that receiver is gone: its port now refuses connections
    with receiving(script=lambda _r, _b: 410) as gone:
        hooks = [
            endpoint(closed, secrets=(SECRET, OTHER_SECRET), max_attempts=2),
            endpoint(gone.url + "?token=sekrit-gone", name="gone"),
        ]
        dispatch(
            state,
            hooks,
            lambda: eventually(
                lambda: (
                    len(logged(state, "nestr.webhook.failed")) >= 2
                    and logged(state, "nestr.webhook.disabled")
                )
            ),
            before=lambda: append(state, 1),
        )
    failed = logged(state, "nestr.webhook.failed")
    assert failed[-1].data == {
        "endpoint": "ci",
        "status": None,
        "attempt": 2,
        "event_seq": 1,
        "error": "connection refused",
        "final": True,
    }
    store = b"".join(p.read_bytes() for p in state.iterdir() if p.is_file())
    for needle in ("sekrit", SECRET.removeprefix("whsec_"), OTHER_SECRET.removeprefix("whsec_")):
        assert needle.encode() not in store


def test_events_pruned_from_the_log_are_still_delivered(tmp_path: Path) -> None:
    """The outbox keeps each body: events deleted by retention after they were queued are
    delivered unchanged (same id and data) once the endpoint answers."""
    state = tmp_path / "state"
    db = open_database(state)

    def queued() -> bool:
        return len(outbox.deliveries(db)) >= 3

    with receiving(script=lambda _r, _b: 503) as down:
        sent: list = []
        dispatch(
            state,
            [endpoint(down.url, max_attempts=100)],
            lambda: eventually(queued),
            before=lambda: sent.extend(append(state, 3)),
        )
    log = open_event_log(state)
    log.prune(max_events=1)
    assert [e.seq for e in log.read(0)][:1] != [1]
    log.close()
    with receiving() as up:
        dispatch(
            state,
            [endpoint(up.url, max_attempts=100)],
            lambda: up.wait_for(lambda: len(up.accepted()) >= 3),
        )
        got = up.verified()
    db.close()
    assert [r.event["id"] for r in got if r.event] == [e.id for e in sent]
    assert [r.event["data"] for r in got if r.event] == [e.data for e in sent]


def test_finished_deliveries_of_pruned_events_are_forgotten(tmp_path: Path) -> None:
    """Delivered rows whose event retention pruned are deleted when a dispatcher starts;
    pending rows and rows of events still in the log stay."""
    state = tmp_path / "state"
    with receiving(script=lambda r, _b: 200 if r.seq < 3 else 503) as receiver:
        dispatch(
            state,
            [endpoint(receiver.url, max_attempts=100)],
            lambda: eventually(lambda: len(logged(state, "nestr.webhook.delivered")) >= 2),
            before=lambda: append(state, 3),
        )
    log = open_event_log(state)
    log.prune(max_events=log.head() - 1)  # event 1 goes
    log.close()
    dispatch(state, [endpoint(receiver.url, max_attempts=100)], lambda: None)
    db = open_database(state)
    rows = {d.event_seq: d.status for d in outbox.deliveries(db)}
    db.close()
    assert rows == {2: "delivered", 3: "pending"}
