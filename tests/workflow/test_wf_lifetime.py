"""Process lifetime and takeover, with real `nestr` processes killed by SIGKILL: two resumes of
one run never both run it, and no step process outlives nestr, a cancel or a resume's start."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from nestr.store import RunStore, open_database
from nestr.testing import process_running

SEED = 20261207
DEADLINE = 60.0


@pytest.fixture(autouse=True)
def _state(project, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The store of `project`, for the nestr processes and the in-process CLI alike."""
    monkeypatch.setenv("NESTR_STATE_DIR", str(project.state_dir))


def _wait(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _pids(root: Path, pattern: str) -> list[int]:
    return [int(p.read_text()) for p in root.glob(pattern) if p.read_text().strip()]


def _nestr(root: Path, *args: str, log: str = "nestr.log") -> subprocess.Popen[bytes]:
    with (root / log).open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "nestr", *args],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # as a job of its own: a kill reaches nestr alone
        )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _guardian_of(pid: int) -> int:
    """The helper that ends ``pid``'s process groups when it dies."""
    for child in _children(pid):
        if b"_guardian.py" in Path(f"/proc/{child}/cmdline").read_bytes():
            return child
    raise AssertionError(f"no guardian process under {pid}")


def _recorded(state_dir: Path) -> set[int]:
    """The process groups the store has recorded."""
    with closing(sqlite3.connect(state_dir / "nestr.db")) as conn:
        return {row[0] for row in conn.execute("SELECT pgid FROM processes")}


def _run_id(nestr) -> str:  # type: ignore[no-untyped-def]
    return str(json.loads(nestr("runs", "list", "--json").out)[0]["id"])


# --- two resumes at once ------------------------------------------------------------------

_MARK = 'echo "$NESTR_RUN_ID {id} $NESTR_OUTPUT" >> markers; echo x=1 >> "$NESTR_OUTPUT"'


def _takeover_workflow(width: int) -> str:
    lines = ["big:", "  steps:"]
    lines.append(f"    - {{id: p0, shell: true, run: '{_MARK.format(id='p0')}'}}")
    hang = _MARK.format(id="hang") + "; [ -e go ] || { echo $$ > hang.pid; exec sleep 300; }"
    lines.append(f"    - {{id: hang, needs: [p0], shell: true, run: '{hang}'}}")
    for i in range(width):
        mark = _MARK.format(id=f"s{i}")
        lines.append(f"    - {{id: s{i}, needs: [hang], shell: true, run: '{mark}'}}")
    wait = _MARK.format(id="last") + "; while [ ! -e release ]; do sleep 0.02; done"
    needs = ", ".join(f"s{i}" for i in range(width))
    lines.append(f"    - {{id: last, needs: [{needs}], shell: true, run: '{wait}'}}")
    return "\n".join(lines)


def test_of_six_resumes_started_together_one_runs_the_rest_once(project, nestr) -> None:
    """A run killed by SIGKILL is resumed by six `nestr runs resume` started at once: one takes
    it over and runs every remaining step exactly once, the five others exit 2 naming the pid
    that has it, and no two tries of any step were given the same $NESTR_OUTPUT file."""
    project.write(_takeover_workflow(width=12))
    root = project.root
    run = _nestr(root, "run", "big", "-m", str(project.manifest_path))
    try:
        _wait(lambda: bool(_pids(root, "hang.pid")), "the hanging step")
    finally:
        _kill(run)
    run_id = _run_id(nestr)
    (root / "go").touch()
    resumes = [_nestr(root, "runs", "resume", run_id, log=f"resume{i}.log") for i in range(6)]
    try:
        _wait(lambda: sum(p.poll() is not None for p in resumes) >= 5, "five resumes to end")
        losers = [p for p in resumes if p.poll() is not None]
        (winner,) = [p for p in resumes if p.poll() is None]
        (root / "release").touch()
        assert winner.wait(timeout=DEADLINE) == 0
    finally:
        for proc in resumes:
            if proc.poll() is None:
                _kill(proc)
    expected = f"run {run_id} is being resumed by pid {winner.pid} on host {socket.gethostname()}"
    for proc in losers:
        assert proc.returncode == 2
        assert expected in (root / f"resume{resumes.index(proc)}.log").read_text()
    lines = [line.split() for line in (root / "markers").read_text().splitlines()]
    counts = Counter(step for _, step, _ in lines)
    assert counts == {"p0": 1, "hang": 2, **{f"s{i}": 1 for i in range(12)}, "last": 1}
    outputs = [path for _, _, path in lines]
    assert len(set(outputs)) == len(outputs)
    with open_database(project.state_dir) as db:
        record = RunStore(db).run(run_id)
    assert (record.status, record.resumes) == ("succeeded", 1)


# --- no step process outlives nestr -------------------------------------------------------

# Each step leaves a background child in its group, as a build tool would.
_BACKGROUND = (
    "if [ -e go ]; then"
    " for p in $(cat pid.* bg.*); do"
    '  [ -e /proc/$p ] && ! grep -q ") [ZX] " /proc/$p/stat && echo {id} $p >> overlap;'
    " done; echo {id} >> done;"
    " else sleep 300 & echo $! > bg.{id}; echo $$ > pid.{id}; wait; fi"
)


def _background_workflow(width: int) -> str:
    lines = ["bg:", "  steps:"]
    for i in range(width):
        run = _BACKGROUND.format(id=f"s{i}")
        lines.append(f"    - {{id: s{i}, shell: true, run: '{run}'}}")
    return "\n".join(lines)


def _started(project, width: int, wait_for: int):  # type: ignore[no-untyped-def]
    """`nestr run bg` in a process of its own, once ``wait_for`` steps have started."""
    project.write(_background_workflow(width))
    root = project.root
    run = _nestr(root, "run", "bg", "-m", str(project.manifest_path), "-j", str(width))
    try:
        _wait(lambda: len(_pids(root, "pid.*")) >= wait_for, f"{wait_for} steps to start")
        _wait(lambda: len(_pids(root, "bg.*")) >= len(_pids(root, "pid.*")), "their children")
        # nestr's helper is told of a group before the store records it (microseconds after
        # its start: a moment a test cannot hit on purpose)
        _wait(lambda: set(_pids(root, "pid.*")) <= _recorded(project.state_dir), "the records")
    except BaseException:
        _kill(run)
        raise
    return run


def test_sigkill_of_nestr_run_ends_every_step_process(project) -> None:
    """Killed by SIGKILL at seeded random moments (after 1 to 4 of 4 steps started), `nestr run`
    leaves no step process behind: neither a step's shell nor the child it put in the
    background."""
    rng = random.Random(SEED)
    for trial in range(3):
        for leftover in [*project.root.glob("pid.*"), *project.root.glob("bg.*")]:
            leftover.unlink()
        run = _started(project, width=4, wait_for=rng.randint(1, 4))
        _kill(run)
        pids = _pids(project.root, "pid.*") + _pids(project.root, "bg.*")
        assert pids
        _wait(
            lambda p=pids: not any(map(process_running, p)),
            f"step processes to end (trial {trial})",
        )


def _orphaned(project):  # type: ignore[no-untyped-def]
    """Steps left running by a `nestr run` killed together with its guardian (as an OOM kill of
    both would): the store's record of their groups is all that is left."""
    run = _started(project, width=3, wait_for=3)
    guardian = _guardian_of(run.pid)
    os.kill(guardian, signal.SIGKILL)
    _kill(run)
    _wait(lambda: not process_running(guardian), "the guardian to die")
    pids = _pids(project.root, "pid.*") + _pids(project.root, "bg.*")
    assert len(pids) == 6
    assert all(process_running(p) for p in pids)  # the premise: nobody has ended them
    return pids


def test_runs_cancel_ends_the_steps_an_interrupted_run_left(project, nestr) -> None:
    """`nestr runs cancel` of an interrupted run ends the process groups its steps left, before
    it returns."""
    pids = _orphaned(project)
    result = nestr("runs", "cancel", _run_id(nestr))
    assert result.code == 0, result.err
    assert "marked cancelled" in result.out
    assert [p for p in pids if process_running(p)] == []


def test_resume_ends_the_earlier_attempts_before_running_anything(project, nestr) -> None:
    """`nestr runs resume` ends the groups of the attempts the dead owner left before any step
    runs again: no step of the resume saw an earlier attempt's process alive."""
    pids = _orphaned(project)
    (project.root / "go").touch()
    result = nestr("runs", "resume", _run_id(nestr))
    assert result.code == 0, result.err
    assert sorted((project.root / "done").read_text().split()) == ["s0", "s1", "s2"]
    assert not (project.root / "overlap").exists()
    assert [p for p in pids if process_running(p)] == []


# --- $NESTR_OUTPUT is never shared ------------------------------------------------------------

_TOGETHER = (
    'touch ../started.{me}; {wait_started}; echo who={me} >> "$NESTR_OUTPUT";'
    " touch ../wrote.{me}; {wait_wrote}"
)
_AWAIT = "n=0; while [ ! -e ../{file} ] && [ $n -lt 3000 ]; do sleep 0.01; n=$((n+1)); done"


def _together(me: str, other: str) -> str:
    """A step that writes its output while the other step runs, and ends once both wrote."""
    return _TOGETHER.format(
        me=me,
        wait_started=_AWAIT.format(file=f"started.{other}"),
        wait_wrote=_AWAIT.format(file=f"wrote.{other}"),
    )


def test_keys_that_look_alike_get_their_own_output_files(project, status_of) -> None:
    """`t[x]` (step t in repo x) and a step named `t_x_` run at the same time: each reads back
    only what it wrote to its own $NESTR_OUTPUT (a key is escaped one-to-one in the file name,
    no longer by replacing each odd character with `_`)."""
    from datetime import UTC, datetime

    from nestr.testing import GitRepo
    from nestr.workspace.record import Workspace, write_record

    root = project.root / "ws"
    GitRepo.init(root / "x")
    write_record(
        Workspace(root=root, manifest_path=project.manifest_path, id="w", created=datetime.now(UTC))
    )
    repo_step = _together("repo", "plain")
    plain_step = "cd x && " + _together("plain", "repo")
    project.write(
        f"""
        wf:
          steps:
            - {{id: t, foreach: {{all: true}}, shell: true, run: '{repo_step}'}}
            - {{id: t_x_, shell: true, run: '{plain_step}'}}
        """,
        "repos:\n  - {name: x, url: file:///nowhere/x}",
    )
    result = project.run("wf", workspace_root=root)
    assert status_of(result) == {"t[x]": "succeeded", "t_x_": "succeeded"}
    outputs = {step.key: dict(step.outputs) for step in result.steps}
    assert outputs == {"t[x]": {"who": "repo"}, "t_x_": {"who": "plain"}}


def test_a_nestr_inside_a_step_accepts_the_mark_of_its_parent(project, status_of) -> None:
    """Every step carries its nestr's mark (NESTR_GUARD), and a nestr started by a step takes
    it for what it is, not for a misspelt setting."""
    python = sys.executable
    project.write(
        f"""
        wf:
          steps:
            - {{id: mark, shell: true, run: 'test -n "$NESTR_GUARD"'}}
            - {{id: nested, run: '{python} -m nestr config show'}}
        """
    )
    result = project.run("wf")
    assert status_of(result) == {"mark": "succeeded", "nested": "succeeded"}
