"""Failure policy: skips, continue_on_error, fail_fast, if-conditions, retries and timeouts."""

from __future__ import annotations

import random

from nestr.store import RunStore, open_database
from nestr.workflow import ExecutorOptions
from nestr.workflow.model import RetryPolicy
from nestr.workflow.retry import retry_delay


def test_failure_skips_dependents_and_independent_branches_go_on(project, status_of) -> None:
    """A failed step skips everything downstream of it while an unrelated branch still runs."""
    project.write(
        """
        wf:
          steps:
            - {id: bad, run: "false"}
            - {id: after_bad, needs: [bad], run: "true"}
            - {id: after_after, needs: [after_bad], run: "true"}
            - {id: other, run: "true"}
            - {id: after_other, needs: [other], run: "true"}
        """
    )
    result = project.run("wf")
    assert result.status == "failed"
    assert result.exit_code == 1
    assert status_of(result) == {
        "bad": "failed",
        "after_bad": "skipped",
        "after_after": "skipped",
        "other": "succeeded",
        "after_other": "succeeded",
    }
    skipped = next(s for s in result.steps if s.key == "after_bad")
    assert skipped.error == "needs bad failed"


def test_continue_on_error_lets_dependents_run(project, status_of) -> None:
    """A failing step with continue_on_error is recorded failed, its dependents run, and the
    run succeeds."""
    project.write(
        """
        wf:
          steps:
            - {id: flaky, run: "false", continue_on_error: true}
            - {id: next, needs: [flaky], run: "true"}
        """
    )
    result = project.run("wf")
    assert status_of(result) == {"flaky": "failed", "next": "succeeded"}
    assert result.status == "succeeded"


def test_fail_fast_cancels_the_rest(project, status_of) -> None:
    """With fail_fast, the first failure kills a running step and cancels pending ones."""
    project.write(
        """
        wf:
          fail_fast: true
          steps:
            - id: hang
              shell: true
              run: echo $$ > hang.pid; exec sleep 30
            - {id: wait_hang, needs: [hang], run: "true"}
            - id: bad
              shell: true
              run: "while [ ! -s hang.pid ]; do sleep 0.01; done; exit 3"
        """
    )
    result = project.run("wf", options=ExecutorOptions(kill_grace=0.5))
    assert status_of(result) == {"hang": "cancelled", "wait_hang": "cancelled", "bad": "failed"}
    assert result.status == "failed"
    assert not _alive(int((project.root / "hang.pid").read_text()))


def test_if_condition_false_skips_step_and_its_dependents(project, status_of) -> None:
    """An `if` that is false skips the step (and what needs it); a true one runs it."""
    project.write(
        """
        wf:
          inputs:
            go: {type: boolean, default: false}
          steps:
            - id: probe
              shell: true
              run: echo changed=true >> "$NESTR_OUTPUT"
            - id: run_it
              needs: [probe]
              if: ${{ steps.probe.outputs.changed == 'true' }}
              run: "true"
            - id: skip_it
              needs: [probe]
              if: inputs.go
              run: "true"
            - {id: after_skip, needs: [skip_it], run: "true"}
        """
    )
    result = project.run("wf")
    assert status_of(result) == {
        "probe": "succeeded",
        "run_it": "succeeded",
        "skip_it": "skipped",
        "after_skip": "skipped",
    }
    assert result.status == "succeeded"


def test_retries_record_every_attempt_with_seeded_backoff(project) -> None:
    """A step failing twice then succeeding is tried three times; each attempt is stored, and
    the waits are exactly the full-jitter delays of the seeded random source."""
    project.write(
        """
        wf:
          steps:
            - id: flaky
              retry: {attempts: 4, backoff: exponential, initial: 2s, max: 5s}
              shell: true
              run: echo x >> tries; [ $(wc -l < tries) -ge 3 ]
        """
    )
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    options = ExecutorOptions(sleep=fake_sleep, rng=random.Random(7))
    result = project.run("wf", options=options)
    assert result.ok
    expected_rng = random.Random(7)
    policy = RetryPolicy(attempts=4, initial=2.0, max=5.0)
    assert waits == [retry_delay(policy, n, expected_rng) for n in (1, 2)]
    assert all(0 <= w <= cap for w, cap in zip(waits, [2.0, 4.0], strict=True))
    with open_database(project.state_dir) as db:
        attempts = RunStore(db).attempts(result.run_id)
    assert [(a.attempt, a.status) for a in attempts] == [
        (1, "failed"),
        (2, "failed"),
        (3, "succeeded"),
    ]
    assert next(s for s in result.steps if s.key == "flaky").attempts == 3


def test_backoff_caps_and_fixed_policy() -> None:
    """Exponential backoff doubles up to max; fixed stays at initial; no jitter means the cap."""
    rng = random.Random(1)
    exp = RetryPolicy(attempts=5, initial=1, max=5, jitter=False)
    assert [retry_delay(exp, n, rng) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    fixed = RetryPolicy(attempts=5, backoff="fixed", initial=3, max=10, jitter=False)
    assert [retry_delay(fixed, n, rng) for n in (1, 2, 3)] == [3, 3, 3]


def test_timeout_terms_then_kills_a_process_ignoring_term(project) -> None:
    """A step over its timeout gets SIGTERM; one that traps TERM is SIGKILLed after the grace
    period, and the attempt is recorded as timed out."""
    project.write(
        """
        wf:
          steps:
            - id: stubborn
              timeout: 0.5s
              shell: true
              run: >-
                trap 'echo got-term >> term.log' TERM; echo $$ > pid;
                while :; do sleep 0.05; done
        """
    )
    result = project.run("wf", options=ExecutorOptions(kill_grace=0.5))
    step = result.steps[0]
    assert step.status == "failed"
    assert step.error == "timed out after 0.5s"
    assert (project.root / "term.log").read_text().startswith("got-term")
    pid = int((project.root / "pid").read_text())
    assert not _alive(pid)
    with open_database(project.state_dir) as db:
        assert [a.status for a in RunStore(db).attempts(result.run_id)] == ["timed_out"]


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_first_attempt_success_with_retries_left_finishes_the_step(project, status_of) -> None:
    """A step allowed several attempts that succeeds at once is recorded succeeded after one
    attempt, its outputs reach dependents, and the run's counts show no step still running."""
    project.write(
        """
        wf:
          defaults:
            retry: {attempts: 3, backoff: fixed, initial: 0s}
          steps:
            - {id: make, run: "sh -c 'echo v=1 >> $NESTR_OUTPUT'"}
            - {id: use, needs: [make], run: "echo ${{ steps.make.outputs.v }}"}
        """
    )
    result = project.run("wf")
    assert status_of(result) == {"make": "succeeded", "use": "succeeded"}
    assert result.counts() == {"succeeded": 2}
    make = next(s for s in result.steps if s.key == "make")
    assert make.attempts == 1
    assert make.outputs == {"v": "1"}
