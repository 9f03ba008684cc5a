"""Bridge templates: dotted lookups filled as text, nothing evaluated, typos refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from nestr.bridges.template import fill
from nestr.workflow.protocols import StepFailed
from nestr.workflow.registry import StepRegistry

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


def test_a_misspelt_with_key_fails_the_step_naming_the_closest(bridges: StepRegistry) -> None:
    """Each bridge step, run by its plugin, refuses a `with:` key its schema lacks, suggesting
    the nearest known key (a typo in an optional key is never silently ignored)."""
    from nestr.testing import run_step_sync

    cases = [
        ("ollama.generate", {"model": "m", "prompt": "p", "timout": 5}, "did you mean 'timeout'"),
        ("ollama.chat", {"model": "m", "mesages": []}, "did you mean 'messages'"),
        ("obsidian.note", {"title": "t", "bdy": "b"}, "did you mean 'body'"),
    ]
    for step, with_, hint in cases:
        ran = run_step_sync(step, registry=bridges, with_=with_, cwd=Path.cwd())
        assert ran.status == "failed", step
        assert "unknown key" in (ran.error or "")
        assert hint in (ran.error or ""), ran.error


def test_every_bridge_step_is_served_by_its_plugin_and_loads(bridges: StepRegistry) -> None:
    """The bridge catalogue names exactly the step types the two plugins offer (and the
    in-process table for embedders); none is a `nestr.steps` entry point, so a workflow always
    reaches the plugin; each name loads the function the steps run."""
    from importlib.metadata import entry_points

    from nestr.bridges.catalog import BRIDGE_STEPS, load
    from nestr.bridges.steps import IN_PROCESS_STEPS

    plugins = {ep.name: ep.value for ep in entry_points(group="nestr.plugins")}
    assert plugins["obsidian"] == "nestr.bridges.served:obsidian"
    assert plugins["ollama"] == "nestr.bridges.served:ollama"
    in_process = {ep.name for ep in entry_points(group="nestr.steps") if "bridges" in ep.value}
    assert in_process == set()
    assert set(IN_PROCESS_STEPS) == set(BRIDGE_STEPS)
    assert {name for name in BRIDGE_STEPS if name in bridges} == set(BRIDGE_STEPS)
    for name, spec in BRIDGE_STEPS.items():
        assert callable(load(name))
        assert set(spec.required) <= set(spec.schema["properties"])
