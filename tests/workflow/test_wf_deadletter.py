"""The dead-letter list: `nestr runs failed-steps` lists the steps that failed for good, and
`nestr runs retry RUN STEP` re-drives one of them (and what it held back) as new attempts of
the same run, without running the rest again."""

from __future__ import annotations

import json

import pytest

from nestr.store import RunStore, open_database

WORKFLOW = """
wf:
  steps:
    - id: first
      shell: true
      run: echo first >> marker; echo token=abc >> "$NESTR_OUTPUT"
    - id: gate
      needs: [first]
      retry: {attempts: 2, initial: 0, jitter: false}
      run: test -e allow
    - id: last
      needs: [gate]
      shell: true
      run: echo "last ${{ steps.first.outputs.token }}" >> marker
    - id: broken
      shell: true
      run: echo broken >> tried; test -e fixed
"""


@pytest.fixture
def failed_run(project, monkeypatch) -> str:
    project.write(WORKFLOW)
    monkeypatch.setenv("NESTR_STATE_DIR", str(project.state_dir))
    result = project.run("wf")
    assert result.status == "failed"
    return result.run_id


def test_failed_steps_lists_steps_that_exhausted_their_retries(project, nestr, failed_run) -> None:
    """`runs failed-steps` lists each failed instance of an ended run with its tries and
    error, for one run or all, and not the steps that were only skipped."""
    listed = nestr("runs", "failed-steps", "--json")
    assert listed.code == 0
    found = {item["key"]: item for item in json.loads(listed.out)}
    assert set(found) == {"gate", "broken"}
    assert found["gate"]["attempts"] == 2
    assert found["gate"]["exit_code"] == 1
    assert found["gate"]["run_id"] == failed_run
    assert found["gate"]["workflow"] == "wf"
    one = nestr("runs", "failed-steps", failed_run[:6])
    assert one.code == 0
    assert [line.split()[2] for line in one.out.splitlines()] == ["gate", "broken"]


def test_retry_redrives_one_step_and_what_it_held_back(project, nestr, failed_run) -> None:
    """`runs retry RUN STEP` runs the failed step again (attempts numbered after the first
    ones) and the dependent it had skipped, with the outputs of the step that succeeded
    before, but neither that step nor the run's other failure; the run stays failed until
    the other failure is retried too, then it is succeeded and leaves the list."""
    (project.root / "allow").touch()
    retried = nestr("runs", "retry", failed_run[:6], "gate", "--json")
    assert retried.code == 1
    shown = json.loads(retried.out)
    assert shown["status"] == "failed"
    assert {s["key"]: s["status"] for s in shown["steps"]} == {
        "first": "succeeded",
        "gate": "succeeded",
        "last": "succeeded",
        "broken": "failed",
    }
    assert (project.root / "marker").read_text() == "first\nlast abc\n"
    assert (project.root / "tried").read_text() == "broken\n"
    listed = json.loads(nestr("runs", "failed-steps", "--json").out)
    assert [item["key"] for item in listed] == ["broken"]
    (project.root / "fixed").touch()
    assert nestr("runs", "retry", failed_run, "broken").code == 0
    with open_database(project.state_dir) as db:
        store = RunStore(db)
        assert store.run(failed_run).status == "succeeded"
        attempts = sorted((a.key, a.attempt, a.status) for a in store.attempts(failed_run))
    assert attempts == [
        ("broken", 1, "failed"),
        ("broken", 2, "succeeded"),
        ("first", 1, "succeeded"),
        ("gate", 1, "failed"),
        ("gate", 2, "failed"),
        ("gate", 3, "succeeded"),
        ("last", 1, "succeeded"),
    ]
    assert json.loads(nestr("runs", "failed-steps", "--json").out) == []


def test_retry_refuses_a_step_that_did_not_fail(project, nestr, failed_run) -> None:
    """Retrying a step that succeeded, or one the run does not have, is a usage error (exit 2)
    that runs nothing."""
    done = nestr("runs", "retry", failed_run, "first")
    assert done.code == 2
    assert "did not fail (first succeeded)" in done.err
    unknown = nestr("runs", "retry", failed_run, "gaet")
    assert unknown.code == 2
    assert "gate" in unknown.err
    assert (project.root / "marker").read_text() == "first\n"
