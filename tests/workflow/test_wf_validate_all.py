"""`nestr workflow validate` reports every problem of every definition at once, in file order."""

from __future__ import annotations

import itertools
import json
import re
import textwrap
from pathlib import Path

import pytest

HEADER = "version: 1\nrepos: []\nworkflows:\n"


def _write(root: Path, workflows: str) -> Path:
    path = root / "nestr.yaml"
    body = textwrap.indent(textwrap.dedent(workflows).strip("\n"), "  ")
    path.write_text(HEADER + body + "\n", encoding="utf-8")
    return path


def _located(err: str) -> list[str]:
    """The ``line:col: field: message`` of each error line, in printed order."""
    return re.findall(r"^error: nestr\.yaml:(\d+:\d+: .*)$", err, flags=re.MULTILINE)


def test_type_errors_do_not_hide_needs_cycles_or_expressions(nestr, cwd: Path) -> None:
    """A step with an unknown key and a wrongly typed field no longer hides the needs, cycle,
    duplicate-id and expression problems of the same workflow; all come out sorted by line."""
    path = _write(
        cwd,
        """
        wf:
          inputs:
            version: {}
          steps:
            - {id: a, needs: [b], run: "true", retires: 3}
            - {id: b, needs: [a], run: "true", timeout: soon}
            - {id: c, needs: [ghost], run: "echo ${{ inputs.versoin }}"}
            - {id: c, run: "echo ${{ steps.zz.outputs.x }}"}
        """,
    )
    result = nestr("workflow", "validate", "-m", str(path))
    assert result.code == 2, result
    assert _located(result.err) == [
        "8:25: workflows.wf.steps[0].needs[0]: dependency cycle: a → b → a",
        "8:51: workflows.wf.steps[0].retires: unknown key",
        "9:51: workflows.wf.steps[1].timeout: bad duration 'soon': expected a number and unit"
        " (ms, s, m, h, d, w), e.g. 10m, 1s or 1h30m",
        "10:25: workflows.wf.steps[2].needs[0]: unknown step 'ghost' in needs",
        "10:38: workflows.wf.steps[2].run: in `inputs.versoin`: unknown input 'versoin'",
        "11:14: workflows.wf.steps[3].id: duplicate step id 'c'",
        "11:22: workflows.wf.steps[3].run: in `steps.zz.outputs.x`: unknown step 'zz'",
    ]
    assert result.err.endswith("7 problems found\n")
    assert "Traceback" not in result.err


def test_each_distinct_cycle_is_reported_once(nestr, cwd: Path) -> None:
    """Two separate loops and a figure eight (b↔c sharing b with a↔b) give one error per loop,
    each at the need that starts it, and none twice."""
    path = _write(
        cwd,
        """
        wf:
          steps:
            - {id: a, needs: [b], run: "true"}
            - {id: b, needs: [a, c], run: "true"}
            - {id: c, needs: [b], run: "true"}
            - {id: d, needs: [e], run: "true"}
            - {id: e, needs: [d, d], run: "true"}
        """,
    )
    result = nestr("workflow", "validate", "-m", str(path))
    assert result.code == 2
    assert _located(result.err) == [
        "6:25: workflows.wf.steps[0].needs[0]: dependency cycle: a → b → a",
        "7:28: workflows.wf.steps[1].needs[1]: dependency cycle: b → c → b",
        "9:25: workflows.wf.steps[3].needs[0]: dependency cycle: d → e → d",
    ]


def test_a_step_needing_itself_is_one_problem_not_also_a_cycle(nestr, cwd: Path) -> None:
    """`needs: [a]` on step a is reported as such, without a second "cycle a → a" error."""
    path = _write(cwd, 'wf:\n  steps:\n    - {id: a, needs: [a], run: "true"}')
    result = nestr("workflow", "validate", "-m", str(path))
    assert _located(result.err) == [
        "6:25: workflows.wf.steps[0].needs[0]: a step cannot need itself"
    ]


def test_cycles_of_a_dense_graph_are_bounded() -> None:
    """In a graph where every step needs every other one (exponentially many cycles), the search
    stops at MAX_CYCLES distinct cycles, and every cycle it returns is a real, simple one."""
    from nestr.workflow.graph import MAX_CYCLES, find_cycles

    ids = [f"s{i}" for i in range(60)]
    edges = {node: [other for other in ids if other != node] for node in ids}
    cycles = find_cycles(edges)
    assert len(cycles) == MAX_CYCLES
    assert len({tuple(c) for c in cycles}) == MAX_CYCLES
    for cycle in cycles:
        assert cycle[0] == cycle[-1]
        assert len(set(cycle[:-1])) == len(cycle) - 1
        assert all(b in edges[a] for a, b in itertools.pairwise(cycle))


def test_a_need_repeated_many_times_closes_one_cycle() -> None:
    """A long chain whose last step lists its first step thousands of times is reported as one
    cycle, not once per repetition."""
    from nestr.workflow.graph import find_cycles

    edges: dict[str, list[str]] = {f"s{i}": [f"s{i + 1}"] for i in range(4999)}
    edges["s4999"] = ["s0"] * 20_000
    cycles = find_cycles(edges)
    assert [(c[0], c[-1], len(c)) for c in cycles] == [("s0", "s0", 5001)]


def test_problems_of_every_workflow_and_file_are_reported(nestr, cwd: Path) -> None:
    """Problems in two workflows of the manifest, an unreadable workflows/*.yaml and a broken one
    beside it are reported in one run: files in order of mention, each sorted by position."""
    _write(
        cwd,
        """
        one:
          steps:
            - {id: a, uses: nope}
        two:
          concurrency: many
          steps:
            - {id: b, run: "true"}
        """,
    )
    (cwd / "workflows").mkdir()
    (cwd / "workflows" / "broken.yaml").write_text("steps: [\n", encoding="utf-8")
    (cwd / "workflows" / "three.yaml").write_text(
        'steps:\n  - {id: c, needs: [x], run: "true"}\n', encoding="utf-8"
    )
    result = nestr("workflow", "validate")
    assert result.code == 2, result
    lines = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert [re.sub(r":\d+:\d+:.*", "", line) for line in lines] == [
        "error: nestr.yaml",
        "error: nestr.yaml",
        "error: workflows/broken.yaml",
        "error: workflows/three.yaml",
    ]
    assert "workflows.one.steps[0].uses: unknown step type 'nope'" in lines[0]
    assert "workflows.two.concurrency" in lines[1]
    assert "YAML syntax error" in lines[2]
    assert "three.yaml:2:21: steps[0].needs[0]: unknown step 'x'" in lines[3]


def test_json_reports_every_problem_and_only_json_on_stdout(nestr, cwd: Path) -> None:
    """`workflow validate --json` on a broken workflow prints {valid: false, errors: [...]} on
    stdout (nothing else), each error with file, line, column, field, message and hint; exit 2."""
    path = _write(
        cwd,
        """
        wf:
          steps:
            - {id: build, run: "true"}
            - {id: test, needs: [biuld], run: "true", retires: 2}
        """,
    )
    result = nestr("workflow", "validate", "--json", "-m", str(path))
    assert result.code == 2
    data = json.loads(result.out)
    assert (data["valid"], data["manifest"], data["workflows"]) == (False, str(path), ["wf"])
    assert data["errors"] == [
        {
            "file": str(path),
            "line": 7,
            "column": 28,
            "field": "workflows.wf.steps[1].needs[0]",
            "message": "unknown step 'biuld' in needs",
            "hint": "did you mean 'build'?",
        },
        {
            "file": str(path),
            "line": 7,
            "column": 58,
            "field": "workflows.wf.steps[1].retires",
            "message": "unknown key",
            "hint": "did you mean 'retry'?",
        },
    ]
    assert result.err == ""


def test_json_for_valid_workflows_has_the_same_shape(nestr, cwd: Path) -> None:
    """A valid run prints the same keys with valid: true and no errors."""
    path = _write(cwd, 'wf:\n  steps:\n    - {id: a, run: "true"}')
    result = nestr("workflow", "validate", "--json", "-m", str(path))
    assert result.code == 0
    assert json.loads(result.out) == {
        "valid": True,
        "errors": [],
        "manifest": str(path),
        "repos": 0,
        "active": 0,
        "workflows": ["wf"],
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["workflow", "validate", "wff"], "no workflow named 'wff'"),
        (["workflow", "validate", "-m", "missing.yaml"], "file not found"),
    ],
)
def test_json_reports_usage_problems_too(nestr, cwd: Path, args: list[str], message: str) -> None:
    """An unknown workflow name or a missing manifest is an error entry in the JSON, exit 2."""
    _write(cwd, 'wf:\n  steps:\n    - {id: a, run: "true"}')
    result = nestr(*args, "--json")
    assert result.code == 2
    data = json.loads(result.out)
    assert data["valid"] is False
    assert message in data["errors"][0]["message"]


def test_run_stops_at_the_same_first_problem_validate_reports(nestr, cwd: Path) -> None:
    """`nestr run` refuses a broken workflow with the problems validate prints, the same one
    first, and runs nothing."""
    path = _write(
        cwd,
        """
        wf:
          steps:
            - {id: a, run: touch ran, retires: 1}
            - {id: b, needs: [ghost], run: "true"}
        """,
    )
    validate = nestr("workflow", "validate", "-m", str(path))
    run = nestr("run", "wf", "-m", str(path))
    assert run.code == validate.code == 2
    assert _located(run.err) == _located(validate.err)
    assert len(_located(run.err)) == 2
    assert not (cwd / "ran").exists()


def test_did_you_mean_is_offered_for_the_first_unknown_needs_only(nestr, cwd: Path) -> None:
    """Each suggestion looks at every step id, so a workflow with many unknown needs gets
    did-you-mean hints for the first 20 and the plain hint after (no quadratic validation)."""
    steps = "\n".join(f'    - {{id: step{i}, run: "true", needs: [stepp{i}]}}' for i in range(30))
    path = _write(cwd, f"wf:\n  steps:\n{steps}\n")
    result = nestr("workflow", "validate", "-m", str(path))
    assert result.code == 2
    hints = re.findall(r"^hint: (.*)$", result.err, flags=re.MULTILINE)
    assert len(hints) == 30
    assert all(h.startswith("did you mean 'step") for h in hints[:20])
    assert set(hints[20:]) == {"needs lists ids of other steps in this workflow"}
