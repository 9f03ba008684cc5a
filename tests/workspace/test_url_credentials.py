"""A password in a repo URL never reaches messages, logs or events (the user name does)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from tests.workspace.assembly_helpers import free_port

from nestr.events import Event, EventBus
from nestr.manifest.model import Manifest, RepoSpec
from nestr.workspace.assemble import AssembleOptions, assemble

PASSWORD = "URLTOKEN-5566"


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    """A manifest naming a repo behind a closed port, with credentials in its URL."""
    url = f"https://ci-bot:{PASSWORD}@127.0.0.1:{free_port()}/acme/a.git"
    path = tmp_path / "project" / "nestr.yaml"
    path.parent.mkdir()
    path.write_text(f"version: 1\nrepos:\n  - name: a\n    url: {url}\n", encoding="utf-8")
    return Manifest(path=path, repos=(RepoSpec(name="a", url=url, revision="main", path="a"),))


def test_assemble_failure_text_and_debug_log_hide_the_password(
    manifest: Manifest, nestr: Any, tmp_path: Path
) -> None:
    """The failed clone is reported with its command and URL, the password replaced by ***."""
    result = nestr(
        "--log-level", "debug", "assemble", "-m", str(manifest.path), "-w", str(tmp_path / "ws")
    )
    assert result.code == 1
    assert "a: failed: `git clone --bare" in result.out
    assert "https://ci-bot:***@127.0.0.1" in result.out
    assert '"argv"' in result.err or "argv=" in result.err  # the debug log shows git's command
    assert PASSWORD not in result.out + result.err


def test_lock_failure_hides_the_password(manifest: Manifest, nestr: Any) -> None:
    """nestr lock reports the failed fetch without the password."""
    result = nestr("lock", "-m", str(manifest.path))
    assert result.code == 1
    assert "ci-bot:***@" in result.err
    assert PASSWORD not in result.out + result.err


def test_assembly_events_hide_the_password(manifest: Manifest, tmp_path: Path) -> None:
    """Every event of a failed assembly, url fields and failure messages alike, is clean."""
    events: list[Event] = []
    bus = EventBus()
    bus.add_listener(events.append)
    state, cache = tmp_path / "state", tmp_path / "cache"
    options = AssembleOptions(cache_dir=cache, state_dir=state, fetch_freshness=0)
    result = asyncio.run(assemble(manifest, tmp_path / "ws", options, bus=bus))
    assert not result.ok
    started = next(e for e in events if e.type.endswith("repo.started"))
    assert started.data["url"].startswith("https://ci-bot:***@127.0.0.1:")
    failed = next(e for e in events if e.type.endswith("repo.failed"))
    assert "git clone" in failed.data["message"]
    assert PASSWORD not in json.dumps([e.to_dict() for e in events])
    assert PASSWORD not in json.dumps(result.to_dict())


def test_every_error_hides_url_passwords_in_message_hint_and_detail() -> None:
    """NestrError is the choke point: message, hint and an input error's detail are clean."""
    from nestr.errors import GitError, ManifestError

    url = f"https://ci-bot:{PASSWORD}@example.invalid/a.git"
    error = ManifestError(f"cannot use {url}", field="repos[0].url", hint=f"try {url}")
    assert PASSWORD not in error.message + (error.hint or "") + error.detail
    assert "https://ci-bot:***@example.invalid/a.git" in error.message
    git = GitError(["git", "fetch", "--", url], 128, f"fatal: unable to access '{url}/'")
    assert PASSWORD not in str(git) + " ".join(git.argv) + git.stderr


def test_the_durable_event_log_never_stores_a_url_password(tmp_path: Path) -> None:
    """Events appended to the log directly (as the run store does) are stored redacted."""
    from nestr.store.eventlog import open_event_log

    log = open_event_log(tmp_path / "state")
    try:
        url = f"https://ci-bot:{PASSWORD}@example.invalid/a.git"
        log.append(Event(type="nestr.test.inputs", data={"inputs": {"repo": url}}))
        stored = [row["body"] for row in log.db.query("SELECT body FROM events")]
        (event,) = log.read(0)
    finally:
        log.close()
    assert PASSWORD not in repr(stored)
    assert event.data == {"inputs": {"repo": "https://ci-bot:***@example.invalid/a.git"}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://u:p@h/x", "https://u:***@h/x"),
        ("https://u:p@ss@h/x", "https://u:***@h/x"),  # an unescaped @ in the password
        ("'https://u:p@h/' or https://a:b@c", "'https://u:***@h/' or https://a:***@c"),
        ('{"u":"https://h","n":"x:y@z"}', '{"u":"https://h","n":"x:y@z"}'),  # JSON stays JSON
        ("ssh://git@host:22/x", "ssh://git@host:22/x"),  # ssh's user name alone is no secret
        ("https://ghp_T0KEN@github.com/o/r", "https://***@github.com/o/r"),  # a token as user
        ("HTTP://tok@h/x and https://u:p@h", "HTTP://***@h/x and https://u:***@h"),
        ("https://host:8080/a@b", "https://host:8080/a@b"),  # a port is no password
    ],
)
def test_redact_url_hides_passwords_and_nothing_else(text: str, expected: str) -> None:
    """Only the userinfo password of a URL is replaced."""
    from nestr.redaction import redact_url

    assert redact_url(text) == expected
