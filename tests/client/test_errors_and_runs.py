"""Through `--server`: a failing run, a bad workflow, Ctrl-C, a refused token, an unreachable
server and commands without a remote form, each reported as the local command reports it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import GUARD, TOKEN, Serving, serve, timeless, write_project

Nestr = Any  # the in-process CLI fixture of tests/conftest.py
WORKFLOWS = """
version: 1
repos: []
workflows:
  broken:
    steps:
      - {id: prepare, run: "echo ready"}
      - id: check
        needs: [prepare]
        shell: true
        run: "for i in $(seq 1 12); do echo line $i; done; echo oops >&2; exit 3"
  looping:
    steps:
      - {id: a, needs: [b], run: "true"}
      - {id: b, needs: [a], run: "true"}
  several:
    steps:
      - {id: a, needs: [nope], run: "true"}
      - {id: b, needs: [nada], run: "true"}
  hang:
    steps:
      - {id: hang, shell: true, run: "echo $$ > hang.pid; exec sleep 300"}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory whose nestr.yaml has a failing, an invalid and a hanging workflow."""
    return write_project(tmp_path, WORKFLOWS)


def test_a_failed_run_reports_the_same_tail_and_exit_code(
    nestr: Nestr, project: Path, served: Serving
) -> None:
    """A run whose step fails exits 1 through the server with the same summary, error and the
    tail of the step's output (read from the server) as a local run."""
    here = nestr("-C", str(project), "run", "broken")
    there = nestr("--server", served.address, "run", "broken")
    assert there.code == here.code == 1
    assert "  | line 3\n" in there.out
    assert "oops" in there.out
    assert "| line 2\n" not in there.out
    assert timeless(there.out) == timeless(here.out)


def test_a_bad_workflow_gives_the_located_message_and_exit_2(
    nestr: Nestr, project: Path, served: Serving
) -> None:
    """A workflow with a cycle is refused by the server with the message, file:line and hint
    of the local error, exit 2; several problems found together are each their own `error:`
    with its hint, as locally; an unknown run is refused the same way too."""
    here = nestr("-C", str(project), "run", "looping")
    there = nestr("--server", served.address, "run", "looping")
    assert here.code == there.code == 2
    assert "nestr.yaml:" in here.err
    assert "cycle" in here.err
    assert there.err == here.err
    here = nestr("-C", str(project), "run", "several")
    there = nestr("--server", served.address, "run", "several")
    assert here.code == there.code == 2
    assert here.err.count("error: nestr.yaml:") == here.err.count("\nhint: ") == 2
    assert there.err == here.err
    here = nestr("-C", str(project), "runs", "show", "nosuchrun")
    there = nestr("--server", served.address, "runs", "show", "nosuchrun")
    assert (there.code, there.err) == (here.code, here.err) == (2, here.err)


def test_ctrl_c_cancels_the_run_on_the_server(project: Path, served: Serving) -> None:
    """Ctrl-C of `nestr --server run` asks the server to cancel: its step's process is killed,
    the run ends cancelled, and the client exits 130 as a local run does."""
    client = subprocess.Popen(
        [sys.executable, "-m", "nestr", "--server", served.address, "run", "hang"],
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stderr is not None
        assert "▶ hang (attempt 1)" in client.stderr.readline() + client.stderr.readline()
        pid_file = project / "hang.pid"
        deadline = time.monotonic() + GUARD
        while not pid_file.exists() or not pid_file.read_text().strip():  # the step's shell runs
            assert time.monotonic() < deadline, "the step never started its process"
            time.sleep(0.01)
        client.send_signal(signal.SIGINT)
        out, err = client.communicate(timeout=GUARD)
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()
    assert client.returncode == 130, err
    assert "cancelling run" in err
    assert "⊘ hang" in out
    assert "cancelled" in out
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_missing_or_wrong_token_is_a_clear_auth_error(
    nestr: Nestr, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a server with a token, no token or a wrong one is refused with one message
    naming the server and a hint (exit 2), for unary calls and for the event stream; the right
    token (from server.token_file) works."""
    running = serve(project, NESTR_SERVER__TOKEN=TOKEN)
    try:
        for args in (["runs", "list"], ["events", "--follow"]):
            denied = nestr("--server", running.address, *args)
            assert denied.code == 2, denied
            assert f"error: the nestr server at {running.address} refused the call" in denied.err
            assert "hint: set server.token" in denied.err
        monkeypatch.setenv("NESTR_SERVER__TOKEN", "not-the-token")
        assert nestr("--server", running.address, "runs", "list").code == 2
        secret = project / "token.txt"
        secret.write_text(TOKEN + "\n")
        monkeypatch.delenv("NESTR_SERVER__TOKEN")
        monkeypatch.setenv("NESTR_SERVER__TOKEN_FILE", str(secret))
        allowed = nestr("--server", running.address, "runs", "list")
        assert (allowed.code, allowed.err) == (0, "")
    finally:
        running.stop()


def nobody() -> str:
    """An address of 127.0.0.1 nothing listens on (a port just freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def test_an_unreachable_server_is_one_line_and_exit_1(nestr: Nestr) -> None:
    """No server at the address: one error line naming it, a hint, exit 1 (also when the
    address comes from server.address)."""
    address = nobody()
    result = nestr("--server", address, "status")
    assert result.code == 1
    lines = result.err.splitlines()
    assert lines[0].startswith(f"error: cannot reach the nestr server at {address}")
    assert lines[1].startswith("hint: start it with `nestr serve`")
    assert len(lines) == 2
    assert nestr("--set", f"server.address={address}", "runs", "list").code == 1


@pytest.mark.parametrize(
    "args",
    [["foreach", "--", "true"], ["cache", "list"], ["workspace", "gc"], ["audit", "verify"]],
)
def test_commands_without_a_remote_form_refuse_the_server(nestr: Nestr, args: list[str]) -> None:
    """Commands that work on this machine only say so with --server (exit 2), naming where the
    address came from, instead of running locally by surprise."""
    result = nestr("--server", "127.0.0.1:9", *args)
    assert result.code == 2
    assert "works on this machine only and has no --server form" in result.err
    assert "set by flag --server" in result.err


def test_sync_status_has_no_remote_form(nestr: Nestr) -> None:
    """`sync status --server` is refused (exit 2) before any call, pointing at `sync plan`."""
    result = nestr("--server", "127.0.0.1:9", "sync", "status")
    assert result.code == 2
    assert "`nestr sync status` works on this machine only" in result.err
    assert "hint: `nestr sync plan` shows what changed" in result.err


def test_following_an_unreachable_server_fails_at_once(nestr: Nestr) -> None:
    """`events --follow` with no server at the address fails with the one-line error (exit 1)
    instead of retrying forever: it retries only a stream that once worked."""
    address = nobody()
    result = nestr("--server", address, "events", "--follow")
    assert result.code == 1
    assert result.err.startswith(f"error: cannot reach the nestr server at {address}")


def test_grpc_is_imported_only_with_a_server(project: Path) -> None:
    """A local command loads no grpc; the same command with --server does."""
    probe = (
        "import sys; from nestr.cli.main import main; code = main(sys.argv[1:]); "
        "print(code, 'grpc' in sys.modules)"
    )

    def loads(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe, "-C", str(project), *args],
            capture_output=True,
            text=True,
            timeout=GUARD,
            check=False,
        )
        return done.stdout.strip()

    assert loads("runs", "list") == "0 False"
    assert loads("--server", nobody(), "runs", "list") == "1 True"


def test_tls_and_mtls_with_the_client_settings(
    nestr: Nestr, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a server that wants mTLS, the client trusts server.tls.ca and presents
    server.tls.client_cert/client_key; without a certificate the call fails (exit 1, naming the
    address), and a client key that cannot be read is a configuration error naming the setting,
    not the path."""
    from tests.server.certs import make_ca, make_leaf, require_openssl

    require_openssl()
    pki = tmp_path / "pki"
    ca = make_ca(pki, "ca")
    server_pair, client_pair = make_leaf(ca, pki, "server"), make_leaf(ca, pki, "client")
    running = serve(
        project,
        NESTR_SERVER__TLS__CERT=str(server_pair.cert),
        NESTR_SERVER__TLS__KEY=str(server_pair.key),
        NESTR_SERVER__TLS__CLIENT_CA=str(ca.cert),
    )
    try:
        address = running.address.replace("127.0.0.1", "localhost")
        monkeypatch.setenv("NESTR_SERVER__TLS__CA", str(ca.cert))
        refused = nestr("--server", address, "runs", "list")
        assert refused.code == 1
        assert f"error: cannot reach the nestr server at {address}" in refused.err
        monkeypatch.setenv("NESTR_SERVER__TLS__CLIENT_CERT", str(client_pair.cert))
        monkeypatch.setenv("NESTR_SERVER__TLS__CLIENT_KEY", str(tmp_path / "missing.key"))
        unreadable = nestr("--server", address, "runs", "list")
        assert unreadable.code == 2
        assert "server.tls.client_key: the file cannot be read" in unreadable.err
        assert "missing.key" not in unreadable.err
        monkeypatch.setenv("NESTR_SERVER__TLS__CLIENT_KEY", str(client_pair.key))
        allowed = nestr("--server", address, "runs", "list")
        assert (allowed.code, allowed.err) == (0, "")
    finally:
        running.stop()


def test_resume_and_cancel_print_what_they_print_here(
    nestr: Nestr, project: Path, served: Serving
) -> None:
    """`runs resume` through the server follows the resumed run to the same summary and exit
    code as a local resume (of a twin run); `runs cancel` of an ended run says the same."""
    root = ["-C", str(project)]
    for _ in range(2):
        assert nestr(*root, "run", "broken").code == 1
    first, second = (line.split()[0] for line in nestr("runs", "list").out.splitlines())
    here = nestr(*root, "runs", "resume", first)
    there = nestr("--server", served.address, "runs", "resume", second)
    assert there.code == here.code == 1
    assert "resumed (1/2 done before)" in there.err
    assert timeless(there.out) == timeless(here.out)
    assert sorted(timeless(there.err).splitlines()) == sorted(timeless(here.err).splitlines())
    here = nestr(*root, "runs", "cancel", first)
    there = nestr("--server", served.address, "runs", "cancel", first)
    assert (there.code, there.out) == (here.code, here.out) == (0, here.out)
    assert "already ended: failed" in here.out
