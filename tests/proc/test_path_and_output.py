"""A step's process: the program ``PATH`` names is the one that runs, and a child's output on
both pipes reaches the log whole however much it writes."""

from __future__ import annotations

import os
from pathlib import Path

from nestr.testing import run_step_sync


def _program(path: Path, says: str, *, executable: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {says}\n", encoding="utf-8")
    path.chmod(0o755 if executable else 0o644)


def test_the_first_executable_on_path_runs(tmp_path: Path) -> None:
    """A name without a slash runs the first executable file of that name along ``PATH``: a
    non-executable file and a directory of that name earlier on are passed over, and a later
    file is not reached."""
    _program(tmp_path / "a" / "tool", "not executable", executable=False)
    (tmp_path / "b" / "tool").mkdir(parents=True)
    _program(tmp_path / "c" / "tool", "from c")
    _program(tmp_path / "d" / "tool", "from d")
    path = os.pathsep.join(str(tmp_path / d) for d in "abcd")
    result = run_step_sync("shell", cwd=tmp_path, with_={"argv": ["tool"]}, env={"PATH": path})
    assert (result.status, result.stdout) == ("succeeded", "from c\n")


def test_a_relative_path_entry_means_a_directory_under_the_step_cwd(tmp_path: Path) -> None:
    """A relative ``PATH`` entry is looked up from the step's working directory, not from
    nestr's, and it is searched in its place along ``PATH``."""
    work = tmp_path / "work"
    _program(work / "bin" / "tool", "from the step bin")
    _program(tmp_path / "later" / "tool", "from later")
    path = os.pathsep.join(["bin", str(tmp_path / "later"), "/usr/bin", "/bin"])
    result = run_step_sync("shell", cwd=work, with_={"argv": ["tool"]}, env={"PATH": path})
    assert (result.status, result.stdout) == ("succeeded", "from the step bin\n")


def test_a_missing_program_on_path_still_fails_cleanly(tmp_path: Path) -> None:
    """A name found in no ``PATH`` directory fails the step with the name in the error."""
    result = run_step_sync(
        "shell", cwd=tmp_path, with_={"argv": ["no-such-tool-xyz"]}, env={"PATH": str(tmp_path)}
    )
    assert result.status == "failed"
    assert "no-such-tool-xyz" in (result.error or "")


def test_output_far_beyond_a_pipe_buffer_on_both_streams_is_kept_whole(tmp_path: Path) -> None:
    """A child writing several pipe buffers to stdout and to stderr, alternating, is neither
    stalled nor cut short: both streams reach the log in full and in order."""
    lines = 4000  # 4,000 lines of 80 characters: about five 64 KiB pipe buffers per stream
    script = (
        f"i=0; while [ $i -lt {lines} ]; do "
        'printf "out %075d\\n" $i; printf "err %075d\\n" $i >&2; i=$((i+1)); done'
    )
    result = run_step_sync("shell", cwd=tmp_path, with_={"script": script})
    assert result.status == "succeeded"
    assert result.stdout.splitlines() == [f"out {i:075d}" for i in range(lines)]
    assert result.stderr.splitlines() == [f"err {i:075d}" for i in range(lines)]


def test_an_executable_file_that_is_no_program_is_passed_over(tmp_path: Path) -> None:
    """An executable file on ``PATH`` that cannot be run (no ``#!`` line, not a binary) is
    passed over for the next program of that name, as the child's own search does."""
    junk = tmp_path / "a" / "tool"
    junk.parent.mkdir()
    junk.write_bytes(b"\x00\x01 not a program\n")
    junk.chmod(0o755)
    _program(tmp_path / "b" / "tool", "from b")
    path = os.pathsep.join(str(tmp_path / d) for d in "ab")
    result = run_step_sync("shell", cwd=tmp_path, with_={"argv": ["tool"]}, env={"PATH": path})
    assert (result.status, result.stdout) == ("succeeded", "from b\n")
