"""Hostile workflow files: empty files, huge durations, control characters, via the CLI too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nestr.errors import InputError, WorkflowDefinitionError
from nestr.manifest.loader import load_manifest
from nestr.workflow.loading import load_workflows


def project(root: Path, workflow: str) -> Path:
    (root / "workflows").mkdir()
    (root / "workflows" / "ci.yaml").write_text(workflow, encoding="utf-8")
    manifest = root / "nestr.yaml"
    manifest.write_text("version: 1\nrepos: []\n", encoding="utf-8")
    return manifest


@pytest.mark.parametrize("text", ["", "\n", "# nothing yet\n"])
def test_an_empty_workflow_file_is_located_at_its_first_line(cwd: Path, text: str) -> None:
    """An empty or comment-only workflows/ci.yaml names workflows/ci.yaml:1, not just the file."""
    manifest = project(cwd, text)
    with pytest.raises(WorkflowDefinitionError) as info:
        load_workflows(load_manifest(manifest))
    assert info.value.message == "workflows/ci.yaml:1:1: a workflow must be a mapping with steps:"


@pytest.mark.parametrize(
    "value", ["1" + "0" * 400, ".inf", "400d", "1" + "0" * 400 + "s"], ids=lambda v: v[-12:]
)
def test_huge_step_timeouts_are_located_errors(cwd: Path, value: str) -> None:
    """A timeout too big for a float, infinite or over a year is refused at its line."""
    manifest = project(cwd, f"steps:\n  - id: a\n    run: 'true'\n    timeout: {value}\n")
    with pytest.raises(InputError, match=r"workflows/ci.yaml:4:\d+: steps\[0\].timeout: "):
        load_workflows(load_manifest(manifest))


def test_control_characters_in_values_are_escaped_in_errors(cwd: Path, nestr: Any) -> None:
    """A terminal escape in a bad value is printed escaped: it cannot set the terminal title."""
    project(cwd, 'concurrency: "\\e]0;TITLE\\a\\nx"\nsteps:\n  - {id: a, run: "true"}\n')
    result = nestr("workflow", "validate")
    assert result.code == 2
    assert "\x1b" not in result.err
    assert "\x07" not in result.err
    assert '"\\x1b]0;TITLE\\x07\\nx"' in result.err


def test_a_bad_expression_is_shown_escaped(cwd: Path) -> None:
    """An expression holding a terminal escape is quoted with the escape written out."""
    manifest = project(cwd, 'steps:\n  - {id: a, run: "true", if: "\\e]0;TITLE\\a"}\n')
    with pytest.raises(WorkflowDefinitionError) as info:
        load_workflows(load_manifest(manifest))
    assert "\x1b" not in info.value.message
    assert "bad expression `\\x1b]0;TITLE\\x07`" in info.value.message
