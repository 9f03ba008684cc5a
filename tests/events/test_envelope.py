"""The event envelope: JSON and CloudEvents round trips."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nestr.events import Event


def full_event() -> Event:
    return Event(
        type="nestr.workspace.repo.fetched",
        data={"seconds": 0.25, "objects": [1, 2]},
        subject="api",
        run_id="r1",
        step="build[api]",
        repo="api",
        correlation_id="c1",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        severity="warning",
        seq=7,
        time=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    )


def test_json_round_trip_is_lossless() -> None:
    """to_json/from_json give back an equal event, every field included."""
    event = full_event()
    assert Event.from_json(event.to_json()) == event


def test_cloudevent_mapping_is_lossless_and_valid() -> None:
    """The CloudEvents form has the required attributes, lower-case extensions, and maps back."""
    event = full_event()
    ce = event.to_cloudevent()
    assert ce["specversion"] == "1.0"
    for attr in ("id", "source", "type", "time", "subject", "data"):
        assert attr in ce
    extensions = set(ce) - {
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "subject",
        "data",
        "datacontenttype",
    }
    assert extensions == {
        "seq",
        "runid",
        "step",
        "repo",
        "correlationid",
        "traceparent",
        "severity",
    }
    assert all(name.isalnum() and name.islower() for name in extensions)
    assert Event.from_cloudevent(ce) == event


def test_minimal_event_round_trips() -> None:
    """Optional fields left out stay None through the CloudEvents mapping."""
    event = Event(type="nestr.x")
    back = Event.from_cloudevent(event.to_cloudevent())
    assert back == event
    assert back.seq is None


def test_unknown_specversion_is_refused() -> None:
    """Only CloudEvents 1.0 is accepted."""
    ce = Event(type="x").to_cloudevent() | {"specversion": "0.3"}
    with pytest.raises(ValueError, match="specversion"):
        Event.from_cloudevent(ce)


def test_events_are_immutable() -> None:
    """Events are frozen; with_seq returns a new one."""
    event = Event(type="x")
    with pytest.raises(AttributeError):
        event.seq = 3  # type: ignore[misc]
    assert event.with_seq(3).seq == 3
    assert event.seq is None


def test_with_seq_keeps_every_other_field() -> None:
    """with_seq changes seq only: every field of Event, each set to a value other than its
    default, is carried over (a field added later and forgotten there fails this)."""
    import dataclasses

    event = dataclasses.replace(full_event(), source="nestr://elsewhere/1")
    unset = [f.name for f in dataclasses.fields(Event) if getattr(event, f.name) == f.default]
    assert unset == []
    numbered = event.with_seq(99)
    assert numbered.seq == 99
    assert numbered == dataclasses.replace(event, seq=99)
