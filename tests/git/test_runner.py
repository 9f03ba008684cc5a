"""The git runner: clean environment, no prompts, timeouts, readable failures."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from nestr.errors import GitError, WorkFailed
from nestr.git.runner import git_env, git_version, run_git, run_git_sync
from nestr.testing import GitRepo


def test_run_git_returns_output(tmp_path: Path) -> None:
    """A successful call returns stdout and the exit code."""
    repo = GitRepo.init(tmp_path / "r")
    result = asyncio.run(run_git(["rev-parse", "HEAD"], cwd=repo.path))
    assert result.returncode == 0
    assert result.stdout.strip() == repo.head()


def test_failure_names_command_code_and_stderr(tmp_path: Path) -> None:
    """A failing git command raises GitError showing argv, exit code and stderr."""
    repo = GitRepo.init(tmp_path / "r")
    with pytest.raises(GitError) as info:
        asyncio.run(run_git(["rev-parse", "--verify", "nope"], cwd=repo.path))
    message = info.value.message
    assert "`git rev-parse --verify nope`" in message
    assert "exited 128" in message
    assert "fatal:" in message
    result = run_git_sync(["rev-parse", "--verify", "nope"], cwd=repo.path, check=False)
    assert result.returncode == 128


def test_redirecting_git_variables_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIT_DIR from the caller's environment cannot point git at another repository."""
    repo = GitRepo.init(tmp_path / "r")
    other = GitRepo.init(tmp_path / "other")
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))
    monkeypatch.setenv("GIT_SSH_COMMAND", "ssh -i key")
    assert run_git_sync(["rev-parse", "HEAD"], cwd=repo.path).stdout.strip() == repo.head()
    env = git_env()
    assert "GIT_DIR" not in env
    assert env["GIT_SSH_COMMAND"] == "ssh -i key"
    assert env["GIT_TERMINAL_PROMPT"] == "0"


def test_never_prompts_for_credentials(tmp_path: Path) -> None:
    """A clone that would need a password fails fast instead of waiting on a prompt."""
    with pytest.raises(GitError):
        asyncio.run(
            run_git(["ls-remote", "http://127.0.0.1:9/nothing.git"], cwd=tmp_path, timeout=30)
        )


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    """A git call past its timeout is killed and reported as timed out."""
    with pytest.raises(GitError, match="timed out"):
        asyncio.run(run_git(["-c", "alias.wait=!sleep 30", "wait"], cwd=tmp_path, timeout=0.5))
    with pytest.raises(GitError, match="timed out"):
        run_git_sync(["-c", "alias.wait=!sleep 30", "wait"], cwd=tmp_path, timeout=0.5)


def test_missing_directory_is_clear(tmp_path: Path) -> None:
    """Running git in a directory that does not exist says so."""
    with pytest.raises(WorkFailed, match="directory does not exist"):
        asyncio.run(run_git(["status"], cwd=tmp_path / "nope"))


def test_missing_git_is_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without git on PATH the error says to install it."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(WorkFailed, match="git is not installed"):
        asyncio.run(run_git(["--version"]))
    assert git_version() is None


def test_input_is_passed_on_stdin(tmp_path: Path) -> None:
    """input_bytes reaches git's stdin (hash-object --stdin)."""
    repo = GitRepo.init(tmp_path / "r")
    result = asyncio.run(run_git(["hash-object", "--stdin"], cwd=repo.path, input_bytes=b"x\n"))
    assert result.stdout.strip() == "587be6b4c3f93f93c489c0111bba5596147a26cb"
    assert os.environ.get("GIT_DIR") is None


def test_cancelling_a_git_call_kills_its_process_group(tmp_path: Path) -> None:
    """A cancelled git call leaves no process behind (its whole group is killed)."""
    pidfile = tmp_path / "pid"

    async def scenario() -> int:
        task = asyncio.ensure_future(
            run_git(["-c", f"alias.hang=!echo $$ > {pidfile}; exec sleep 30", "hang"], cwd=tmp_path)
        )
        while not pidfile.exists() or not pidfile.read_text().strip():  # noqa: ASYNC110 - a file, not an event, says the child started
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return int(pidfile.read_text())

    pid = asyncio.run(scenario())
    # SIGKILL is delivered asynchronously and the orphan is reaped by init: wait for either.
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """True while ``pid`` is a running (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


def test_parallel_calls_report_each_outcome_in_call_order(tmp_path: Path) -> None:
    """run_git_parallel returns one outcome per call in order; failures and missing directories
    take their own slot, a hung call is killed at its timeout, and the others still finish."""
    from nestr.git.runner import GitResult, run_git_parallel

    repos = [GitRepo.init(tmp_path / f"r{i}") for i in range(5)]
    hang = ["-c", "alias.wait=!sleep 30", "wait"]
    calls: list[tuple[list[str], Path | None]] = [
        (["rev-parse", "--show-toplevel"], repo.path) for repo in repos
    ]
    calls.insert(2, (["rev-parse", "no-such-ref"], repos[0].path))
    calls.insert(4, (["status"], tmp_path / "missing"))
    calls.append((hang, tmp_path))
    outcomes = run_git_parallel(calls, jobs=3, timeout=1.0)
    assert len(outcomes) == len(calls)
    tops = [o.stdout.strip() for o in outcomes if isinstance(o, GitResult)]
    assert tops == [str(repo.path) for repo in repos]
    assert isinstance(outcomes[2], GitError)
    assert outcomes[2].returncode == 128
    assert isinstance(outcomes[4], WorkFailed)
    assert "does not exist" in outcomes[4].message
    assert isinstance(outcomes[-1], GitError)
    assert "no answer after 1s" in outcomes[-1].message
