"""events.retention: durations in the workflow grammar, limits validated, keep-all by default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nestr.config import model
from nestr.config.settings import Settings


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("30d", 2592000.0), ("1h30m", 5400.0), ("2w", 1209600.0), ("250ms", 0.25), (90, 90.0)],
)
def test_max_age_takes_a_duration_or_seconds(written: object, seconds: float) -> None:
    """30d, 1h30m, 2w, 250ms and a number of seconds all validate to seconds."""
    assert model.RetentionSettings.model_validate({"max_age": written}).max_age == seconds


def test_text_seconds_from_an_environment_variable_are_seconds() -> None:
    """'3600' (an environment variable is text) is 3600 seconds, as in a YAML file."""
    assert model.RetentionSettings.model_validate({"interval": "3600"}).interval == 3600.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_age", "soon"),
        ("max_age", "30 days"),
        ("max_age", 0),
        ("max_age", "400d"),
        ("max_age", "inf"),
        ("max_events", 0),
        ("interval", "-1s"),
    ],
)
def test_bad_retention_values_are_refused(field: str, value: object) -> None:
    """No duration, zero, beyond a year, infinite, or zero events: a validation error."""
    with pytest.raises(ValidationError):
        model.RetentionSettings.model_validate({field: value})


def test_the_default_keeps_every_event() -> None:
    """No limit by default: nothing is pruned unless the user asks for it."""
    retention = Settings().events.retention
    assert (retention.max_age, retention.max_events, retention.interval) == (None, None, 3600.0)
