"""The engine's behaviour, the same on both executors: each case runs on the local executor
and on Temporal (a real dev server and ``nestr worker`` process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.workflow.conftest import Project, statuses

from nestr.config.settings import Settings
from nestr.store import open_database
from nestr.store.runs import RunStore
from nestr.workflow import RunResult

RunIt = Callable[..., RunResult]


@pytest.fixture(params=["local", "temporal"])
def run(request: pytest.FixtureRequest, project: Project) -> RunIt:
    """Runs a workflow of ``project`` on the executor of the parameter."""
    if request.param == "local":
        settings = replace(Settings(), state_dir=project.state_dir)
    else:
        settings = request.getfixturevalue("cluster").settings(project.state_dir)

    def go(name: str, **kwargs: Any) -> RunResult:
        return project.run(name, settings=settings, **kwargs)

    return go


def test_outputs_flow_between_steps_and_conditions_skip(project: Project, run: RunIt) -> None:
    """A step's outputs reach the expressions of the steps that need it, and a false ``if:``
    skips a step and, through it, its dependents."""
    project.write(
        """
        wf:
          steps:
            - {id: make, shell: true, run: echo "v=42" >> "$NESTR_OUTPUT"}
            - id: use
              needs: [make]
              run: test "${{ steps.make.outputs.v }}" = 42
            - {id: never, needs: [make], if: "steps.make.outputs.v == '0'", run: "false"}
            - {id: after, needs: [never], run: "true"}
        """
    )
    result = run("wf")
    assert statuses(result) == {
        "make": "succeeded",
        "use": "succeeded",
        "never": "skipped",
        "after": "skipped",
    }
    assert result.ok
    make = next(s for s in result.steps if s.key == "make")
    assert make.outputs == {"v": "42"}


def test_retries_until_a_try_succeeds(project: Project, run: RunIt, tmp_path: Path) -> None:
    """A step with ``retry.attempts: 3`` that fails twice succeeds on its third try, and its
    record counts three tries."""
    counter = tmp_path / "tries"
    project.write(
        f"""
        wf:
          steps:
            - id: flaky
              shell: true
              retry: {{attempts: 3, initial: 0.01, max: 0.02, jitter: false}}
              run: echo x >> {counter}; test "$(wc -l < {counter})" -ge 3
        """
    )
    result = run("wf")
    assert result.ok
    assert counter.read_text().count("x") == 3
    assert result.steps[0].attempts == 3


def test_a_try_past_its_timeout_fails(project: Project, run: RunIt) -> None:
    """A try that outlives the step's ``timeout`` is stopped and fails its step, with the
    timeout as its error."""
    project.write(
        """
        wf:
          steps:
            - {id: slow, run: sleep 30, timeout: 0.5}
        """
    )
    started = time.monotonic()
    result = run("wf")
    assert result.status == "failed"
    assert "timed out" in (result.steps[0].error or "")
    assert time.monotonic() - started < 25


def test_fail_fast_stops_the_run(project: Project, run: RunIt, tmp_path: Path) -> None:
    """With ``fail_fast``, a failure stops the run: a running sibling is cancelled (its
    process killed before it finished), a dependent of the failure never runs, and the run
    fails."""
    late = tmp_path / "late"
    project.write(
        f"""
        wf:
          fail_fast: true
          steps:
            - {{id: bad, shell: true, run: "sleep 0.5; exit 3"}}
            - {{id: long, shell: true, run: "sleep 20; touch {late}"}}
            - {{id: after, needs: [bad], run: "true"}}
        """
    )
    result = run("wf", jobs=2)
    found = statuses(result)
    assert result.status == "failed"
    assert found["bad"] == "failed"
    assert found["long"] == "cancelled"
    assert found["after"] in {"skipped", "cancelled"}
    assert not late.exists()


def test_cancel_kills_running_steps(project: Project, run: RunIt, tmp_path: Path) -> None:
    """Cancelling a run kills its running step's process and records the run cancelled,
    with the steps that never started cancelled too."""
    began, late = tmp_path / "began", tmp_path / "late"
    project.write(
        f"""
        wf:
          steps:
            - {{id: long, shell: true, run: "touch {began}; sleep 20; touch {late}"}}
            - {{id: next, needs: [long], run: "true"}}
        """
    )
    result = run("wf", cancel_when=began.exists)
    assert result.status == "cancelled"
    assert statuses(result) == {"long": "cancelled", "next": "cancelled"}
    assert not late.exists()


def test_foreach_fans_out_per_repo(project: Project, run: RunIt) -> None:
    """A foreach step runs once per selected repo, in that repo's directory, and a later
    step reads each instance's outputs."""
    project.write(
        """
        wf:
          steps:
            - id: name
              foreach: {groups: [backend]}
              shell: true
              run: echo "dir=$(basename "$PWD")" >> "$NESTR_OUTPUT"
            - id: report
              needs: [name]
              run: >-
                test "${{ steps.name.outputs.api.dir }}-${{ steps.name.outputs.db.dir }}"
                = api-db
        """,
        repos="""
        repos:
          - {name: api, url: file:///nowhere/api, groups: [backend]}
          - {name: db, url: file:///nowhere/db, groups: [backend]}
          - {name: web, url: file:///nowhere/web, groups: [frontend]}
        """,
    )
    workspace = project.root / "ws"
    for name in ("api", "db", "web"):
        (workspace / name).mkdir(parents=True)
    result = run("wf", workspace_root=workspace)
    assert result.ok, result.to_dict()
    assert statuses(result) == {
        "name[api]": "succeeded",
        "name[db]": "succeeded",
        "report": "succeeded",
    }


def test_a_cancel_request_from_another_process_stops_it(
    project: Project, run: RunIt, tmp_path: Path
) -> None:  # fmt: skip
    """``nestr runs cancel``'s request row (written by another process) cancels the run."""
    began = tmp_path / "began"
    project.write(
        f"""
        wf:
          steps:
            - {{id: long, shell: true, run: "touch {began}; sleep 20"}}
        """
    )

    def request() -> None:
        while not began.exists():
            time.sleep(0.02)
        db = open_database(project.state_dir)
        try:
            RunStore(db).request_cancel("cancelme", time.time())
        finally:
            db.close()

    thread = threading.Thread(target=request)
    thread.start()
    try:
        result = run("wf", run_id="cancelme")
    finally:
        thread.join()
    assert result.status == "cancelled"
