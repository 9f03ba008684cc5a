"""Bridge templates: dotted lookups filled as text, nothing evaluated, typos refused."""

from __future__ import annotations

import pytest

from nestr.bridges.template import fill
from nestr.workflow.protocols import StepFailed

VALUES = {
    "title": "Release",
    "steps": {"test[api]": {"log": "E  assert 1 == 2", "status": "failed"}},
    "fields": {"ok": True, "repos": ["api", "web"], "none": None},
}


def test_placeholders_are_filled_from_dotted_paths_and_instance_keys() -> None:
    """`{{ title }}`, `{{steps.test[api].log}}` (an instance key is one part) and values that
    are not text are filled; text around them is kept as it is."""
    text = fill(
        "# {{title}}\n{{ steps.test[api].status }}: {{steps.test[api].log}}\n"
        "{{ fields.ok }} {{ fields.repos }} [{{ fields.none }}]",
        VALUES,
    )
    assert text == "# Release\nfailed: E  assert 1 == 2\ntrue api, web []"


def test_an_unknown_name_fails_and_says_what_is_known() -> None:
    """A placeholder naming nothing is an error naming the missing part and the keys there."""
    with pytest.raises(
        StepFailed, match=r"names nothing at `tset\[api\]` \(known here: test\[api\]\)"
    ):
        fill("{{ steps.tset[api].log }}", VALUES)


def test_nothing_is_evaluated() -> None:
    """Text that is not a dotted path (an expression, a filter, a call) is left alone."""
    text = "{{ 1 + 1 }} {{ title | upper }} {{ title() }} {%raw%}"
    assert fill(text, VALUES) == text
