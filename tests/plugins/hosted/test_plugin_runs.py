"""A plugin written with the SDK, started by nestr as a real process, in real workflow runs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest


def run_json(nestr: Any, *args: str) -> dict[str, Any]:
    done = nestr(*args, "--json")
    assert done.code == 0, done
    result: dict[str, Any] = json.loads(done.out)
    return result


@pytest.mark.usefixtures("echo")
def test_plugin_step_runs_and_feeds_outputs_to_later_steps(nestr: Any, workflows: Any) -> None:
    """An ``echo.say`` step runs in the plugin: its log lines reach the step log, its progress
    is a step progress event, it is told where the run's store is, and its output feeds a later
    shell step; without the host the type would be unknown."""
    workflows("""
        hello:
          steps:
            - id: a
              uses: echo.say
              with: {text: hi there, times: 2}
            - id: b
              needs: [a]
              run: echo got ${{ steps.a.outputs.said }} from ${{ steps.a.outputs.state_dir }}
    """)
    done = nestr("run", "hello")
    assert done.code == 0, done
    run = _last_run(nestr)
    assert nestr("runs", "logs", run, "a").out.count("hi there") == 2
    events = nestr("events", "--json", "--type", "nestr.workflow.step.progress")
    progress = [json.loads(line) for line in events.out.splitlines()]
    assert [(e["step"], e["data"]) for e in progress] == [
        ("a", {"message": "said", "current": 1, "total": 1, "unit": "texts"})
    ]
    said = nestr("runs", "logs", run, "b").out
    assert "got hi there from " in said
    state_dir = Path(said.split("got hi there from ", 1)[1].split()[0])
    assert (state_dir / "nestr.db").is_file()


def _last_run(nestr: Any) -> str:
    done = nestr("runs", "list", "--json")
    assert done.code == 0, done
    runs = json.loads(done.out)
    return str(runs[0]["id"])


@pytest.mark.usefixtures("echo")
def test_plugin_is_reused_across_the_steps_of_a_run(nestr: Any, workflows: Any) -> None:
    """Two plugin steps of one run are served by the same plugin process (started once)."""
    workflows("""
        twice:
          steps:
            - {id: a, uses: echo.say, with: {text: one}}
            - {id: b, uses: echo.say, with: {text: two}, needs: [a]}
            - id: c
              needs: [a, b]
              run: test ${{ steps.a.outputs.pid }} = ${{ steps.b.outputs.pid }}
    """)
    done = nestr("run", "twice")
    assert done.code == 0, done


def test_crash_fails_the_attempt_and_the_retry_runs_on_a_new_plugin(
    nestr: Any, workflows: Any, echo: Path, marks: Path
) -> None:
    """A plugin that dies mid-step fails that attempt only ("crashed"); the retry starts the
    plugin again (another pid) and succeeds."""
    workflows("""
        crashy:
          steps:
            - id: c
              uses: echo.crash
              retry: {attempts: 2, initial: 0s, jitter: false}
    """)
    done = nestr("run", "crashy")
    assert done.code == 0, done
    first = (marks / "attempt-1-pid").read_text(encoding="utf-8")
    second = (marks / "attempt-2-pid").read_text(encoding="utf-8")
    assert first != second
    shown = nestr("runs", "show", _last_run(nestr), "--json")
    attempts = json.loads(shown.out)["attempts"]
    assert [a["status"] for a in attempts] == ["failed", "succeeded"]
    assert "crashed" in attempts[0]["error"]


@pytest.mark.usefixtures("echo")
def test_plugin_stderr_goes_to_the_step_log(nestr: Any, workflows: Any) -> None:
    """What the plugin process writes to its own stderr during a step lands in that step's log."""
    workflows("""
        noisy:
          steps:
            - {id: n, uses: echo.stderr}
    """)
    assert nestr("run", "noisy").code == 0
    assert "a line on the plugin's stderr" in nestr("runs", "logs", _last_run(nestr), "n").out


@pytest.mark.usefixtures("echo")
def test_failed_plugin_step_fails_with_its_message(nestr: Any, workflows: Any) -> None:
    """A step function raising StepError fails the step with its message and exit code 1."""
    workflows("""
        failing:
          steps:
            - {id: f, uses: echo.fail}
    """)
    done = nestr("run", "failing")
    assert done.code == 1
    assert "told to fail" in done.out + done.err


@pytest.mark.usefixtures("echo")
def test_validate_problems_are_located_at_the_workflow_line(
    nestr: Any, workflows: Any, marks: Path
) -> None:
    """The plugin's Validate runs before the run starts: a wrong field is reported at its own
    file:line, a missing one at the with: mapping, and no step runs."""
    path = workflows("""
        bad:
          steps:
            - id: s
              uses: echo.say
              with:
                times: many
    """)
    done = nestr("run", "bad")
    assert done.code == 2, done
    lines = path.read_text(encoding="utf-8").splitlines()
    times_line = next(i for i, line in enumerate(lines, 1) if "times: many" in line)
    assert (
        f"nestr.yaml:{times_line}:18: workflows.bad.steps[0].with.times: echo.say: expected"
        " integer, got string" in done.err
    )
    assert f"nestr.yaml:{times_line}:11: workflows.bad.steps[0].with: echo.say: `text`" in done.err
    assert nestr("runs", "list", "--json").out.strip() in {"[]", ""}


@pytest.mark.usefixtures("echo")
def test_workflow_and_manifest_validate_know_plugin_steps(nestr: Any, workflows: Any) -> None:
    """`nestr workflow validate` and `nestr manifest validate` accept a plugin step type and
    report its plugin's Validate problems at their line (before, the type was unknown)."""
    workflows("""
        good:
          steps:
            - {id: s, uses: echo.say, with: {text: hi}}
    """)
    assert nestr("workflow", "validate").code == 0
    assert nestr("manifest", "validate").code == 0
    assert nestr("workflow", "list").code == 0
    workflows("""
        bad:
          steps:
            - {id: s, uses: echo.say, with: {text: 3}}
    """)
    done = nestr("workflow", "validate")
    assert done.code == 2
    assert (
        "nestr.yaml:6:46: workflows.bad.steps[0].with.text: echo.say: expected string, got integer"
        in done.err
    )


def test_a_plugin_that_cannot_start_is_reported_at_the_step(
    nestr: Any, workflows: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin speaking another protocol version is refused before the run, at the `uses:` of
    each step that needs it, with both versions named; it is started once for all of them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    starts = tmp_path / "starts"
    exe = bin_dir / "nestr-plugin-future"
    exe.write_text(
        f"#!{sys.executable}\nimport time\nopen({str(starts)!r}, 'a').write('started\\n')\n"
        "print('nestr-plugin|2|unix|/tmp/x.sock', flush=True)\ntime.sleep(60)\n",
        encoding="utf-8",
    )
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    workflows("""
        later:
          steps:
            - {id: s, uses: future.step}
            - {id: t, uses: future.step}
    """)
    done = nestr("run", "later")
    assert done.code == 2
    assert "nestr.yaml:6:23: workflows.later.steps[0].uses: plugin future speaks plugin" in done.err
    assert "nestr.yaml:7:23: workflows.later.steps[1].uses: plugin future speaks plugin" in done.err
    assert "protocol version 2; this nestr speaks 1" in done.err
    assert starts.read_text(encoding="utf-8") == "started\n"


def test_a_step_timeout_cancels_the_plugin_step(
    nestr: Any, workflows: Any, echo: Path, marks: Path
) -> None:
    """A plugin step past its timeout is cancelled in the plugin (its task sees the cancel) and
    the attempt fails as timed out."""
    workflows("""
        slow:
          steps:
            - {id: w, uses: echo.wait, timeout: 1s}
    """)
    done = nestr("run", "slow")
    assert done.code == 1
    assert (marks / "waiting").exists()
    assert (marks / "cancelled").read_text(encoding="utf-8") == "yes"
    shown = json.loads(nestr("runs", "show", _last_run(nestr), "--json").out)
    assert "timed out" in shown["attempts"][0]["error"]
