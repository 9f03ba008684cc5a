"""The root command: global options, exit codes, error handling, start-up cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from nestr.cli.errors import handle_errors
from nestr.errors import ConflictsLeft, GitError, UsageError

HEAVY = (
    "grpc",
    "textual",
    "temporalio",
    "jinja2",
    "prometheus_client",
    "pydantic",
    "structlog",
    "rich",
    "opentelemetry",
)


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_nothing_heavy(flag: str) -> None:
    """`nestr --help` and `--version` load none of the heavy libraries (start-up guard)."""
    code = (
        "import sys\nfrom nestr.cli.main import main\n"
        f"rc = main([{flag!r}])\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]\n"
        "print('HEAVY', heavy, file=sys.stderr)\nsys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr


def test_help_lists_every_command_without_importing_them(nestr) -> None:
    """The help lists commands from the table, so their modules stay unimported."""
    from nestr.cli.main import COMMANDS

    for name in COMMANDS:
        sys.modules.pop(COMMANDS[name][0].split(":")[0], None)
    result = nestr("--help")
    assert result.code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.out
    assert not any(COMMANDS[n][0].split(":")[0] in sys.modules for n in COMMANDS)


def test_version_flag(nestr) -> None:
    """--version prints the package version."""
    from nestr import __version__

    assert nestr("--version").out == f"nestr {__version__}\n"


def test_version_command_json(nestr) -> None:
    """`nestr version --json` reports nestr, Python and the real git version."""
    data = json.loads(nestr("version", "--json").out)
    assert set(data) == {"nestr", "python", "git"}
    assert data["git"].split(".")[0].isdigit()
    assert nestr("version").out.startswith("nestr ")


def test_real_executable_runs(tmp_path: Path) -> None:
    """The installed console script and `python -m nestr` both work."""
    exe = Path(sys.executable).parent / "nestr"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("nestr ")
    proc = subprocess.run(
        [sys.executable, "-m", "nestr", "config", "show", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout)["settings"]["jobs"] == 8


def test_unknown_command_is_usage_error(nestr) -> None:
    """A mistyped command exits 2 with click's suggestion."""
    result = nestr("confg")
    assert result.code == 2
    assert "No such command" in result.err


def test_dash_c_changes_directory(nestr, tmp_path: Path) -> None:
    """-C DIR makes nestr find DIR's nestr.config.yaml."""
    project = tmp_path / "elsewhere"
    project.mkdir()
    (project / "nestr.config.yaml").write_text("jobs: 3\n")
    data = json.loads(nestr("-C", str(project), "config", "show", "--json").out)
    assert data["settings"]["jobs"] == 3
    assert data["origins"]["jobs"] == f"{project / 'nestr.config.yaml'}:1"


def test_dash_c_missing_directory(nestr, tmp_path: Path) -> None:
    """-C to a missing directory is a usage error."""
    assert nestr("-C", str(tmp_path / "nope"), "version").code == 2


def test_handler_maps_nestr_errors_to_their_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    """Each NestrError class exits with its own code and prints message and hint."""

    def raiser(exc: Exception):
        def run() -> None:
            raise exc

        return run

    assert handle_errors(raiser(UsageError("bad", hint="do x")), []) == 2
    err = capsys.readouterr().err
    assert "error: bad" in err
    assert "hint: do x" in err
    assert "Traceback" not in err
    assert handle_errors(raiser(ConflictsLeft("c")), []) == 3
    assert handle_errors(raiser(GitError(["git", "x"], 128, "fatal: no")), []) == 1
    assert "fatal: no" in capsys.readouterr().err
    assert handle_errors(raiser(KeyboardInterrupt()), []) == 130
    assert handle_errors(raiser(click.exceptions.Exit(4)), []) == 4


def test_debug_shows_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """With --debug a NestrError also prints its traceback."""

    def run() -> None:
        raise UsageError("bad")

    handle_errors(run, ["--debug"])
    assert "Traceback" in capsys.readouterr().err


def test_unexpected_exception_writes_crash_log(capsys: pytest.CaptureFixture[str]) -> None:
    """A bug prints a short apology and a crash log path; the log has versions and traceback."""

    def run() -> None:
        raise RuntimeError("boom")

    assert handle_errors(run, ["x"]) == 1
    err = capsys.readouterr().err
    assert "Sorry" in err
    assert "Traceback" not in err
    path = Path(err.split("crash log with the details is at ")[1].split(";")[0])
    text = path.read_text()
    assert "nestr " in text
    assert "RuntimeError: boom" in text
    assert path.is_relative_to(Path(os.environ["XDG_STATE_HOME"]))


def test_broken_pipe_exits_quietly() -> None:
    """`nestr … | head -1` ends with exit 0 and no error output."""
    script = f"{sys.executable} -m nestr config show --origin | head -1"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_several_input_errors_each_get_their_own_line_and_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """MultipleInputErrors prints one `error:` line per problem, each followed by its hint."""
    from nestr.errors import MultipleInputErrors, SourceLocation

    errors = [
        UsageError("first", hint="fix one"),
        UsageError("second", location=SourceLocation(file=Path("/x/f.yaml"), line=3, column=4)),
    ]

    def run() -> None:
        raise MultipleInputErrors(errors)

    assert handle_errors(run, []) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: first",
        "hint: fix one",
        "error: /x/f.yaml:3:4: second",
    ]


def test_every_listed_command_loads_and_has_help(nestr) -> None:
    """Each entry of the command table imports, is a click command, and answers --help."""
    from nestr.cli.main import COMMANDS

    for name in COMMANDS:
        result = nestr(name, "--help")
        assert result.code == 0, (name, result.err)
        assert "Usage: nestr" in result.out
