"""`nestr foreach`: prefixed live output, grouped output, exit summary, JSON, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from nestr.testing.processes import process_running

if TYPE_CHECKING:
    from conftest import HandmadeWorkspace

# Each repo prints "<name> one", waits until every repo has printed, then prints "<name> two":
# live output must interleave the repos, grouped output must keep each repo's lines together.
BARRIER = (
    'echo "$NESTR_REPO_NAME one"; touch "$BARRIER/$NESTR_REPO_NAME"; '
    'i=0; while [ "$(ls "$BARRIER" | wc -l)" -lt 3 ] && [ $i -lt 1000 ]; do '
    "i=$((i+1)); sleep 0.01; done; "
    'echo "$NESTR_REPO_NAME two"'
)


def test_lines_are_prefixed_by_repo(handmade: Callable[..., HandmadeWorkspace], nestr) -> None:  # type: ignore[no-untyped-def]
    """Every output line reads `name | line`, names padded to the same width; exit 0."""
    hw = handmade()
    result = nestr("foreach", "-w", str(hw.root), "--", "git", "rev-parse", "--abbrev-ref", "HEAD")
    assert result.code == 0, result
    assert sorted(result.out.splitlines()) == ["api | main", "lib | main", "web | main"]
    assert "3 repos: all exited 0" in result.err


def test_live_output_interleaves_and_group_output_does_not(
    handmade: Callable[..., HandmadeWorkspace],
    nestr,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """Live, the second lines come after all first lines; --group-output prints blocks."""
    hw = handmade()
    for mode, flags in (("live", ()), ("grouped", ("--group-output",))):
        barrier = tmp_path / f"barrier-{mode}"
        barrier.mkdir()
        monkeypatch.setenv("BARRIER", str(barrier))
        result = nestr("foreach", "-w", str(hw.root), "-j", "3", *flags, "--", "sh", "-c", BARRIER)
        assert result.code == 0, result
        repos = [line.split(" | ")[0].strip() for line in result.out.splitlines()]
        if mode == "live":
            assert [line.split()[-1] for line in result.out.splitlines()] == ["one"] * 3 + [
                "two"
            ] * 3
        else:
            assert repos[0::2] == repos[1::2]  # each repo's two lines are adjacent
            assert sorted(repos[0::2]) == ["api", "lib", "web"]


def test_failure_summary_and_exit_code(handmade: Callable[..., HandmadeWorkspace], nestr) -> None:  # type: ignore[no-untyped-def]
    """A failing repo makes the exit code 1 and the summary names it with its exit code."""
    hw = handmade()
    result = nestr(
        "foreach",
        "-w",
        str(hw.root),
        "--keep-going",
        "--shell",
        "--",
        'test "$NESTR_REPO_NAME" != web || exit 5',
    )
    assert result.code == 1
    assert "3 repos: 2 ok, 1 failed" in result.err
    assert "  web: exit 5" in result.err


def test_timeout_ends_each_command_and_what_it_started(
    handmade: Callable[..., HandmadeWorkspace], nestr, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """--timeout ends a command still running after that long, with the background process it
    started; the summary says it timed out and the exit code is 1."""
    hw = handmade()
    pids = tmp_path / "pids"
    result = nestr(
        "foreach",
        "-w",
        str(hw.root),
        "--repo",
        "web",
        "--timeout",
        "1s",
        "--shell",
        "--",
        f"sleep 300 & echo $! >> {pids}; wait",
    )
    assert result.code == 1
    assert "  web: timed out after 1s" in result.err
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 1
    assert not process_running(started[0])


def test_timeout_takes_the_duration_grammar(
    handmade: Callable[..., HandmadeWorkspace], nestr
) -> None:  # type: ignore[no-untyped-def]
    """A --timeout that is not a positive duration is a usage error naming the flag."""
    hw = handmade()
    for bad in ("soon", "0"):
        result = nestr("foreach", "-w", str(hw.root), "--timeout", bad, "--", "true")
        assert result.code == 2
        assert "--timeout" in result.err


def test_stop_after_failure_is_explained(handmade: Callable[..., HandmadeWorkspace], nestr) -> None:  # type: ignore[no-untyped-def]
    """Without --keep-going, repos not started are listed with a hint about --keep-going."""
    hw = handmade()
    result = nestr("foreach", "-w", str(hw.root), "-j", "1", "--", "false")
    assert result.code == 1
    assert "1 ok" not in result.err
    assert "0 ok, 1 failed, 2 skipped" in result.err
    assert "not started after the first failure: web, lib" in result.err
    assert "--keep-going" in result.err


def test_missing_command_reported_per_repo(
    handmade: Callable[..., HandmadeWorkspace], nestr
) -> None:  # type: ignore[no-untyped-def]
    """An unknown program is reported as 'command not found' for each repo, exit 1."""
    hw = handmade()
    result = nestr("foreach", "-w", str(hw.root), "--keep-going", "--", "no-such-tool-x")
    assert result.code == 1
    assert result.err.count("error: command not found: no-such-tool-x") == 3


def test_options_after_the_command_belong_to_it(
    handmade: Callable[..., HandmadeWorkspace],
    nestr,  # type: ignore[no-untyped-def]
) -> None:
    """Without `--`, options after the program name are the program's, not nestr's."""
    hw = handmade()
    result = nestr("foreach", "-w", str(hw.root), "--repo", "api", "echo", "-n", "--json")
    assert result.code == 0, result
    assert result.out.strip() == "api | --json"


def test_json_collects_results_and_output(
    handmade: Callable[..., HandmadeWorkspace],
    nestr,  # type: ignore[no-untyped-def]
) -> None:
    """--json prints each repo's result with its output lines instead of streaming them."""
    hw = handmade()
    result = nestr("foreach", "-w", str(hw.root), "-g", "backend", "--json", "--", "echo", "hi")
    assert result.code == 0
    data = json.loads(result.out)
    assert data["ok"] is True
    assert [(r["name"], r["returncode"], r["output"]) for r in data["results"]] == [
        ("api", 0, ["hi"]),
        ("lib", 0, ["hi"]),
    ]


def _recorded(pids: Path) -> list[int]:
    """The pids written so far (a file may exist before its number is written)."""
    texts = [p.read_text() for p in pids.iterdir()]
    return [int(text) for text in texts if text.endswith("\n")]  # echo writes it whole


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_kills_every_child_group_and_exits_130(
    handmade: Callable[..., HandmadeWorkspace], tmp_path: Path, signum: int
) -> None:
    """SIGINT (Ctrl-C) or SIGTERM to nestr kills each child and its own children; exit 130."""
    hw = handmade()
    pids = tmp_path / "pids"
    pids.mkdir()
    # The child starts a grandchild (sleep) in the background and records both pids.
    script = (
        f"sleep 60 & echo $! > {pids}/$NESTR_REPO_NAME.grand; "
        f"echo $$ > {pids}/$NESTR_REPO_NAME; wait"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nestr",
            "foreach",
            "-w",
            str(hw.root),
            "-j",
            "3",
            "--shell",
            "--",
            script,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while len(_recorded(pids)) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    recorded = _recorded(pids)
    assert len(recorded) == 6, proc.communicate(timeout=5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    # Killed processes may linger as zombies of their reaped parents only briefly.
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in recorded) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in recorded if _alive(pid)]


def test_no_command_is_a_usage_error(handmade: Callable[..., HandmadeWorkspace], nestr) -> None:  # type: ignore[no-untyped-def]
    """`nestr foreach` without a command exits 2 and names the missing argument."""
    hw = handmade()
    result = nestr("foreach", "-w", str(hw.root))
    assert result.code == 2
    assert "COMMAND" in result.err
