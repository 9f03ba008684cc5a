"""HTTPS tokens from nestr's settings, against a real smart-HTTP git server that wants one.

The server (``tests/git/smart_http.py``) is ``git http-backend`` behind HTTP Basic auth on
127.0.0.1; nestr assembles a manifest naming a repo on it, then every file under the test's
directory, the command's output and ``config show`` are searched for the token.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.git.smart_http import SmartHttpServer, smart_http

from nestr.config.settings import GitCredential, GitSettings, Secret
from nestr.events import EventBus
from nestr.git import credentials
from nestr.git.runner import run_git

TOKEN = "nestr-test-TOKEN-6f1d2c9a"
OTHER_TOKEN = "other-server-TOKEN-0b7e"


def _upstream(root: Path, name: str) -> None:
    """A bare repo ``root/name`` with one commit on main."""
    bare, work = root / name, root.parent / f"work-{name}"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "README.md").write_text(f"# {name}\n", encoding="utf-8")
    subprocess.run(["git", "-C", str(work), "add", "."], check=True)
    subprocess.run(["git", "-C", str(work), "commit", "-q", "-m", "first"], check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", str(bare), "main"], check=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SmartHttpServer]:
    """A token-protected server holding ``a.git``."""
    root = tmp_path / "served"
    root.mkdir()
    _upstream(root, "a.git")
    with smart_http(root, TOKEN) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_credentials_after() -> Iterator[None]:
    """Credentials configured by a command stay in the process: drop them after each test."""
    yield
    credentials.configure(GitSettings())


def _manifest(cwd: Path, *urls: str) -> Path:
    lines = ["version: 1", "repos:"]
    for index, url in enumerate(urls):
        lines += [f"  - name: r{index}", f"    url: {url}", "    revision: main"]
    path = cwd / "nestr.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _config(cwd: Path, host: str, last_line: str = "token_file: secrets/token") -> None:
    (cwd / "nestr.config.yaml").write_text(
        "git:\n  credentials:\n    local:\n"
        f"      host: '{host}'\n      protocol: http\n      {last_line}\n",
        encoding="utf-8",
    )


def _files_holding(root: Path, secret: str, *, skip: tuple[Path, ...] = ()) -> list[Path]:
    """Every file under ``root`` (but ``skip``) whose bytes contain ``secret``."""
    needle = secret.encode()
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and path not in skip and needle in path.read_bytes()
    ]


def test_assemble_without_a_token_fails_clearly_and_never_prompts(
    nestr: Any, cwd: Path, server: SmartHttpServer
) -> None:
    """With no credential configured, git is refused and says it would have had to prompt."""
    manifest = _manifest(cwd, server.url("a.git"))
    result = nestr("assemble", "-m", str(manifest), "-w", str(cwd / "ws"))
    assert result.code == 1
    assert "could not read Username" in result.out + result.err
    assert "terminal prompts disabled" in result.out + result.err
    assert server.denied > 0
    assert not server.authorizations


@pytest.mark.parametrize("source", ["token_file", "env", "secrets_dir"])
def test_assemble_with_a_token_succeeds_and_the_token_is_nowhere(
    nestr: Any,
    cwd: Path,
    tmp_path: Path,
    server: SmartHttpServer,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
) -> None:
    """The token reaches the server, and no file, log line or `config show` output holds it."""
    secret_file = cwd / "secrets" / "token"
    secret_file.parent.mkdir()
    if source == "token_file":
        secret_file.write_text(TOKEN + "\n", encoding="utf-8")
        _config(cwd, server.host)
    elif source == "env":
        _config(cwd, server.host, last_line="username: bot")
        monkeypatch.setenv("NESTR_GIT__CREDENTIALS__LOCAL__TOKEN", TOKEN)
    else:
        secret_file = secret_file.with_name("git__credentials__local__token")
        secret_file.write_text(TOKEN, encoding="utf-8")
        _config(cwd, server.host, last_line="username: bot")
        monkeypatch.setenv("NESTR_SECRETS_DIR", str(secret_file.parent))
    manifest = _manifest(cwd, server.url("a.git"))
    done = nestr("--log-level", "debug", "assemble", "-m", str(manifest), "-w", str(cwd / "ws"))
    assert done.code == 0, done
    assert (cwd / "ws" / "r0" / "README.md").read_text(encoding="utf-8") == "# a.git\n"
    assert server.sent_token(TOKEN)
    assert '"argv"' in done.err or "argv=" in done.err  # the debug log did show git's commands
    shown = nestr("config", "show", "--origin")
    assert "git.credentials.local.token = ********" in shown.out
    as_json = nestr("config", "show", "--json")
    for output in (done.out, done.err, shown.out, shown.err, as_json.out):
        assert TOKEN not in output
    assert _files_holding(tmp_path, TOKEN, skip=(secret_file,)) == []
    mirror_configs = list((tmp_path / "_isolated").rglob("mirrors/*/config"))
    assert mirror_configs  # the mirror's and the workspace repo's configs were searched
    assert (cwd / "ws" / "r0" / ".git" / "config").is_file()


def test_the_durable_event_log_of_an_authenticated_assembly_never_holds_the_token(
    tmp_path: Path, server: SmartHttpServer
) -> None:
    """Every event of an assembly that used the token is stored, and the database lacks it."""
    from nestr.events import Event
    from nestr.manifest.model import Manifest, RepoSpec
    from nestr.store.eventlog import open_event_log
    from nestr.workspace.assemble import AssembleOptions, assemble

    entry = GitCredential(name="local", host=server.host, token=Secret(TOKEN), protocol="http")
    credentials.configure(GitSettings(credentials=(entry,)))
    url = server.url("a.git")
    manifest = Manifest(
        path=tmp_path / "nestr.yaml",
        repos=(RepoSpec(name="a", url=url, revision="main", path="a"),),
    )
    state, cache = tmp_path / "state", tmp_path / "cache"
    log = open_event_log(state)
    seen: list[Event] = []
    try:
        bus = EventBus(sink=log)
        bus.add_listener(seen.append)
        options = AssembleOptions(cache_dir=cache, state_dir=state, fetch_freshness=0)
        result = asyncio.run(assemble(manifest, tmp_path / "ws", options, bus=bus))
        stored = log.read(0)
    finally:
        log.close()
    assert result.ok
    assert server.sent_token(TOKEN)
    assert len(stored) == len(seen) > 0
    assert [path.name for path in state.glob("*.db")] == ["nestr.db"]
    assert _files_holding(tmp_path, TOKEN) == []


def test_a_second_host_never_gets_the_token(
    nestr: Any, cwd: Path, tmp_path: Path, server: SmartHttpServer
) -> None:
    """A repo on another host (same address, other port) is asked without the token, and fails."""
    (cwd / "secrets").mkdir()
    (cwd / "secrets" / "token").write_text(TOKEN, encoding="utf-8")
    _config(cwd, server.host)
    other_root = tmp_path / "other"
    other_root.mkdir()
    _upstream(other_root, "b.git")
    with smart_http(other_root, OTHER_TOKEN) as other:
        manifest = _manifest(cwd, server.url("a.git"), other.url("b.git"))
        done = nestr("assemble", "-m", str(manifest), "-w", str(cwd / "ws"))
    assert done.code == 1
    assert (cwd / "ws" / "r0" / "README.md").is_file()  # the configured host worked
    assert not (cwd / "ws" / "r1").exists()
    assert other.denied > 0
    assert other.authorizations == []  # no credential of any kind was offered to it
    assert not other.sent_token(TOKEN)


def _fill(protocol: str, host: str) -> subprocess.CompletedProcess[str]:
    """``git credential fill`` for protocol/host through nestr's git runner, as git asks."""
    request = f"protocol={protocol}\nhost={host}\n\n".encode()
    result = asyncio.run(
        run_git(["credential", "fill"], check=False, timeout=30, input_bytes=request)
    )
    return subprocess.CompletedProcess(result.argv, result.returncode, result.stdout, result.stderr)


def test_the_helper_answers_its_host_and_protocol_only(cwd: Path) -> None:
    """git gets the token for the configured protocol://host, and for no other host/port/scheme."""
    entry = GitCredential(
        name="gh", host="git.example.test", token=Secret(TOKEN), username="bot", protocol="https"
    )
    credentials.configure(GitSettings(credentials=(entry,)))
    answered = _fill("https", "git.example.test")
    assert answered.returncode == 0
    assert f"username=bot\npassword={TOKEN}\n" in answered.stdout
    for protocol, host in [
        ("https", "other.example.test"),
        ("https", "git.example.test:8443"),
        ("http", "git.example.test"),
        ("https", "git.example.test.evil.test"),
    ]:
        refused = _fill(protocol, host)
        assert refused.returncode != 0, (protocol, host)
        assert TOKEN not in refused.stdout + refused.stderr


def test_a_users_store_helper_is_not_handed_the_token(
    nestr: Any, cwd: Path, server: SmartHttpServer
) -> None:
    """`credential.helper=store` in the user's git config does not save nestr's token to disk."""
    home = Path.home()
    subprocess.run(["git", "config", "--global", "credential.helper", "store"], check=True)
    (cwd / "secrets").mkdir()
    (cwd / "secrets" / "token").write_text(TOKEN, encoding="utf-8")
    _config(cwd, server.host)
    done = nestr("assemble", "-m", str(_manifest(cwd, server.url("a.git"))), "-w", str(cwd / "ws"))
    assert done.code == 0, done
    assert not (home / ".git-credentials").exists()
