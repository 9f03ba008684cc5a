"""The CLI faces: run, runs list/show/logs, events, workflow list/validate, graph."""

from __future__ import annotations

import json

WORKFLOWS = """
build:
  description: Build and package
  inputs:
    version: {default: "0.1.0"}
  steps:
    - id: compile
      shell: true
      run: >-
        echo "compiling ${{ inputs.version }}";
        echo artifact=app-${{ inputs.version }} >> "$NESTR_OUTPUT"
    - id: package
      needs: [compile]
      run: echo packed ${{ steps.compile.outputs.artifact }}
broken:
  steps:
    - {id: boom, shell: true, run: "echo bad things >&2; exit 4"}
    - {id: never, needs: [boom], run: "true"}
"""


def test_run_json_and_exit_codes(project, nestr) -> None:
    """`nestr run --json` prints the result shape; exit 0 on success, 1 on failure."""
    project.write(WORKFLOWS)
    ok = nestr("run", "build", "-m", str(project.manifest_path), "--var", "version=2", "--json")
    assert ok.code == 0, ok
    data = json.loads(ok.out)
    assert data["status"] == "succeeded"
    assert data["counts"] == {"succeeded": 2}
    assert [s["key"] for s in data["steps"]] == ["compile", "package"]
    assert data["steps"][0]["outputs"] == {"artifact": "app-2"}
    bad = nestr("run", "broken", "-m", str(project.manifest_path))
    assert bad.code == 1
    assert "boom: `echo bad things >&2; exit 4` exited 4" in bad.out
    assert "| bad things" in bad.out
    assert "✗ boom" in bad.err  # progress lines go to stderr when it is not a terminal


def test_runs_list_show_and_logs(project, nestr) -> None:
    """Runs are listed newest first, shown with steps and attempts, and their logs printed."""
    project.write(WORKFLOWS)
    nestr("run", "build", "-m", str(project.manifest_path))
    nestr("run", "broken", "-m", str(project.manifest_path))
    listed = json.loads(nestr("runs", "list", "--json").out)
    assert [r["workflow"] for r in listed] == ["broken", "build"]
    assert [r["status"] for r in listed] == ["failed", "succeeded"]
    build_id = listed[1]["id"]
    shown = json.loads(nestr("runs", "show", build_id[:7], "--json").out)
    assert shown["inputs"] == {"version": "0.1.0"}
    assert [a["status"] for a in shown["attempts"]] == ["succeeded", "succeeded"]
    logs = nestr("runs", "logs", build_id, "compile")
    assert logs.code == 0
    assert "compiling 0.1.0" in logs.out
    assert "packed" not in logs.out
    plain = nestr("runs", "list")
    assert build_id in plain.out


def test_runs_logs_follow_ends_with_the_run(project, nestr) -> None:
    """`runs logs --follow` on a finished run prints its output and returns."""
    project.write(WORKFLOWS)
    nestr("run", "build", "-m", str(project.manifest_path))
    run_id = json.loads(nestr("runs", "list", "--json").out)[0]["id"]
    followed = nestr("runs", "logs", run_id, "--follow")
    assert followed.code == 0
    assert "[compile] compiling 0.1.0" in followed.out


def test_events_json_lines_filters(project, nestr) -> None:
    """`nestr events --json` prints one Event.to_dict() per line, filtered by type and run."""
    project.write(WORKFLOWS)
    nestr("run", "build", "-m", str(project.manifest_path))
    nestr("run", "build", "-m", str(project.manifest_path))
    first = json.loads(nestr("runs", "list", "--json").out)[1]["id"]
    out = nestr("events", "--json", "--type", "nestr.workflow.step.finished", "--run", first).out
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["step"] for e in events] == ["compile", "package"]
    assert all(e["run_id"] == first for e in events)
    assert set(events[0]) >= {"seq", "type", "time", "data", "id", "source", "severity"}
    since = events[0]["seq"]
    later = nestr("events", "--json", "--since", str(since)).out.splitlines()
    assert json.loads(later[0])["seq"] == since + 1
    assert "nestr.workflow.run.started" in nestr("events").out


def test_workflow_list_and_validate(project, nestr) -> None:
    """`workflow list --json` describes each workflow; validate says they are valid."""
    project.write(WORKFLOWS)
    listed = json.loads(nestr("workflow", "list", "--json", "-m", str(project.manifest_path)).out)
    assert [w["name"] for w in listed] == ["build", "broken"]
    assert listed[0]["inputs"] == [
        {"name": "version", "type": "string", "default": "0.1.0", "required": False}
    ]
    assert listed[0]["steps"] == ["compile", "package"]
    valid = nestr("workflow", "validate", "-m", str(project.manifest_path))
    assert valid.code == 0
    assert "2 workflow(s) valid" in valid.out


def test_graph_formats(project, nestr) -> None:
    """`nestr graph` draws the DAG edges in mermaid, dot and text."""
    project.write(WORKFLOWS)
    path = str(project.manifest_path)
    mermaid = nestr("graph", "build", "--format", "mermaid", "-m", path).out
    assert mermaid.startswith("flowchart TD")
    assert "s_compile --> s_package" in mermaid
    dot = nestr("graph", "build", "--format", "dot", "-m", path).out
    assert '"compile" -> "package";' in dot
    text = nestr("graph", "build", "-m", path).out
    assert "package: run  ← compile" in text


def test_output_over_the_cap_is_cut_and_marked(project, nestr, monkeypatch) -> None:
    """Output beyond the per-stream cap is not stored; the record is marked truncated and
    `runs logs` says so."""
    from nestr.workflow import ExecutorOptions

    monkeypatch.setenv("NESTR_STATE_DIR", str(project.state_dir))
    project.write(
        """
        loud:
          steps:
            - {id: talk, run: "python3 -c \\"print('x' * 5000)\\""}
        """
    )
    result = project.run("loud", options=ExecutorOptions(log_cap=100))
    assert result.ok
    from nestr.store import RunStore, open_database

    with open_database(project.state_dir) as db:
        [log] = RunStore(db).logs(result.run_id)
    assert log.truncated
    assert log.text.startswith("x" * 100 + "\n[… output truncated by nestr")
    shown = nestr("runs", "logs", result.run_id)
    assert "[output truncated]" in shown.out


def test_events_follow_sees_another_process(project) -> None:
    """`nestr events --follow --json` in one process prints events another process appends,
    and stops on Ctrl-C with exit 130 (interrupted)."""
    import os
    import signal
    import subprocess
    import sys

    from nestr.events import Event
    from nestr.store.eventlog import open_event_bus

    env = {**os.environ, "NESTR_STATE_DIR": str(project.state_dir)}
    bus = open_event_bus(project.state_dir)
    bus.publish(Event("nestr.test.first"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "nestr", "events", "--follow", "--json", "--type", "nestr.test"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["type"] == "nestr.test.first"
        bus.publish(Event("nestr.other.ignored"))
        bus.publish(Event("nestr.test.second", {"n": 2}))
        line = json.loads(proc.stdout.readline())
        assert (line["type"], line["data"], line["seq"]) == ("nestr.test.second", {"n": 2}, 3)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
