"""Every definition error is reported before anything runs, at file:line:col, with exit 2."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

HEADER = "version: 1\nrepos: []\nworkflows:\n  wf:\n"


def _write(root: Path, body: str) -> Path:
    path = root / "nestr.yaml"
    path.write_text(HEADER + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n")
    return path


CASES = [
    (
        "unknown need",
        """
        steps:
          - {id: build, run: "true"}
          - {id: test, needs: [biuld], run: "true"}
        """,
        ":7:28: workflows.wf.steps[1].needs[0]: unknown step 'biuld' in needs",
        "did you mean 'build'?",
    ),
    (
        "cycle",
        """
        steps:
          - {id: a, needs: [b], run: "true"}
          - {id: b, needs: [a], run: "true"}
        """,
        ":6:25: workflows.wf.steps[0].needs[0]: dependency cycle: a → b → a",
        "remove one of the needs along this loop",
    ),
    (
        "duplicate id",
        """
        steps:
          - {id: a, run: "true"}
          - {id: a, run: "true"}
        """,
        ":7:14: workflows.wf.steps[1].id: duplicate step id 'a'",
        None,
    ),
    (
        "unknown step type",
        """
        steps:
          - {id: a, uses: git.tagg}
        """,
        ":6:23: workflows.wf.steps[0].uses: unknown step type 'git.tagg'",
        "did you mean 'git.tag'?",
    ),
    (
        "expression reads a step that is not upstream",
        """
        steps:
          - {id: a, run: "true"}
          - id: b
            run: echo ${{ steps.a.outputs.x }}
        """,
        ":8:14: workflows.wf.steps[1].run: in `steps.a.outputs.x`: step 'a' is not upstream of 'b'",
        "add 'a' to the needs of 'b'",
    ),
    (
        "unknown input in an expression",
        """
        inputs:
          version: {}
        steps:
          - id: a
            run: echo ${{ inputs.versoin }}
        """,
        ":9:14: workflows.wf.steps[0].run: in `inputs.versoin`: unknown input 'versoin'",
        "did you mean 'version'?",
    ),
    (
        "bad expression syntax",
        """
        steps:
          - id: a
            if: ${{ inputs.x == }}
            run: "true"
        """,
        ":7:13: workflows.wf.steps[0].if: bad expression",
        None,
    ),
    (
        "repo outside foreach",
        """
        steps:
          - id: a
            run: echo ${{ repo.name }}
        """,
        ":7:14: workflows.wf.steps[0].run: in `repo.name`: `repo` is only defined in foreach steps",
        None,
    ),
    (
        "bad duration",
        """
        steps:
          - {id: a, run: "true", timeout: 10 minutes}
        """,
        ":6:39: workflows.wf.steps[0].timeout: bad duration '10 minutes'",
        None,
    ),
    (
        "unknown key",
        """
        steps:
          - {id: a, run: "true", retires: 3}
        """,
        ":6:39: workflows.wf.steps[0].retires: unknown key",
        "did you mean 'retry'?",
    ),
    (
        "unknown key in a retry policy",
        """
        steps:
          - id: a
            run: "true"
            retry: {attempts: 2, backof: fixed}
        """,
        ":8:38: workflows.wf.steps[0].retry.backof: unknown key",
        "did you mean 'backoff'?",
    ),
    (
        "wrong type",
        """
        concurrency: many
        steps:
          - {id: a, run: "true"}
        """,
        ":5:18: workflows.wf.concurrency: input should be a valid integer",
        None,
    ),
    (
        "run and uses together",
        """
        steps:
          - {id: a, run: "true", uses: noop}
        """,
        ":6:9: workflows.wf.steps[0]: a step needs exactly one of `run` (a command) or `uses`",
        None,
    ),
]


@pytest.mark.parametrize(
    ("body", "where", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_definition_error_is_located(
    nestr, cwd: Path, body: str, where: str, hint: str | None
) -> None:
    """`nestr workflow validate` exits 2 and names the file, line, column and field at fault."""
    path = _write(cwd, body)
    result = nestr("workflow", "validate", "-m", str(path))
    assert result.code == 2, result
    assert f"nestr.yaml{where}" in result.err
    if hint:
        assert hint in result.err
    assert "Traceback" not in result.err


def test_all_problems_are_reported_together(nestr, cwd: Path) -> None:
    """Several problems in one workflow come out in one run of validate."""
    path = _write(
        cwd,
        """
        steps:
          - {id: a, needs: [x], run: "true"}
          - {id: a, uses: nope}
        """,
    )
    result = nestr("workflow", "validate", "-m", str(path))
    assert result.code == 2
    assert "unknown step 'x'" in result.err
    assert "duplicate step id 'a'" in result.err
    assert "unknown step type 'nope'" in result.err


def test_workflow_file_errors_point_into_that_file(nestr, cwd: Path) -> None:
    """A workflow in workflows/NAME.yaml is located in that file."""
    (cwd / "nestr.yaml").write_text("version: 1\nrepos: []\n")
    (cwd / "workflows").mkdir()
    (cwd / "workflows" / "ship.yaml").write_text(
        'steps:\n  - id: a\n    run: "true"\n    needs: [zzz]\n'
    )
    result = nestr("workflow", "validate", "ship")
    assert result.code == 2
    assert "ship.yaml:4:13: steps[0].needs[0]: unknown step 'zzz'" in result.err


def test_run_refuses_an_invalid_workflow_before_running_anything(nestr, cwd: Path) -> None:
    """`nestr run` validates first: a broken definition runs no step at all."""
    path = _write(
        cwd,
        """
        steps:
          - {id: a, run: touch ran}
          - {id: b, needs: [a, ghost], run: "true"}
        """,
    )
    result = nestr("run", "wf", "-m", str(path))
    assert result.code == 2
    assert not (cwd / "ran").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--var", "colour=red"], "has no input 'colour'"),
        ([], "needs input 'version'"),
        (["--var", "version=1", "--var", "count=abc"], "input 'count' expects a number"),
        (["--var", "novalue"], "expected NAME=VALUE"),
    ],
)
def test_bad_inputs_exit_2(nestr, cwd: Path, args: list[str], message: str) -> None:
    """Unknown, missing and mistyped inputs are usage errors (exit 2) before anything runs."""
    path = _write(
        cwd,
        """
        inputs:
          version: {}
          count: {type: number, default: 1}
        steps:
          - {id: a, run: touch ran}
        """,
    )
    result = nestr("run", "wf", "-m", str(path), *args)
    assert result.code == 2, result
    assert message in result.err
    assert not (cwd / "ran").exists()


def test_unknown_workflow_suggests_a_name(nestr, cwd: Path) -> None:
    """Asking for a workflow that does not exist names the closest one."""
    path = _write(cwd, 'steps:\n  - {id: a, run: "true"}')
    result = nestr("run", "wff", "-m", str(path))
    assert result.code == 2
    assert "did you mean 'wf'?" in result.err
