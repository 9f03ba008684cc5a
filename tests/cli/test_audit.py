"""``nestr audit``: every mutating command leaves exactly one record naming the OS user, the
action, its target and outcome; read-only commands none; ``verify`` finds tampering."""

from __future__ import annotations

import getpass
import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

WORKFLOWS = """workflows:
  fine:
    steps:
      - {id: a, run: 'true'}
  broken:
    steps:
      - {id: a, run: 'false'}
sync:
  sources:
    - path: shared
  rules:
    - files: [ci.yml]
      repos: all
"""


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory))


def manifest_of(project: Project) -> Path:
    """A manifest of api and web with two workflows and one shared file."""
    path = project.manifest(project.spec("api"), project.spec("web")).path
    with path.open("a", encoding="utf-8") as file:
        file.write(WORKFLOWS)
    (path.parent / "shared").mkdir()
    (path.parent / "shared" / "ci.yml").write_text("on: push\n", encoding="utf-8")
    return path


def records(nestr: Any) -> list[dict[str, Any]]:
    result = nestr("audit", "list", "--json")
    assert result.code == 0, result.err
    return list(json.loads(result.out))


def one_more(nestr: Any, before: int, *argv: str, code: int = 0) -> dict[str, Any]:
    """Run ``nestr ARGV`` (exit ``code``) and return the one record it added."""
    result = nestr(*argv)
    assert result.code == code, (argv, result)
    added = records(nestr)[before:]
    assert len(added) == 1, (argv, added)
    return added[0]


def test_each_mutating_command_leaves_one_record(project: Project, nestr: Any) -> None:
    """assemble, lock, foreach, sync apply, run, runs resume/cancel, workspace rm/gc and cache
    gc each add one record with the OS user@host, the action, its target and outcome, and the
    read-only commands between them add none; the chain verifies."""
    manifest, ws = manifest_of(project), str(project.ws)
    steps: list[tuple[tuple[str, ...], int, str]] = [
        (("assemble", "-m", str(manifest), "-w", ws), 0, "workspace.assemble"),
        (("lock", "-m", str(manifest)), 0, "lock"),
        (("foreach", "-w", ws, "--", "true"), 0, "foreach"),
        (("sync", "apply", "-w", ws), 0, "sync.apply"),
        (("run", "fine", "-w", ws), 0, "run.start"),
        (("run", "broken", "-w", ws), 1, "run.start"),
    ]
    seen: list[dict[str, Any]] = []
    for argv, code, action in steps:
        seen.append(one_more(nestr, len(seen), *argv, code=code))
        assert seen[-1]["action"] == action
        read_only(nestr, ws, len(seen))
    broken = seen[-1]["target"]["run"]
    seen.append(one_more(nestr, len(seen), "runs", "resume", broken, code=1))
    seen.append(one_more(nestr, len(seen), "runs", "cancel", broken))
    seen.append(one_more(nestr, len(seen), "workspace", "rm", "--force", ws))
    seen.append(one_more(nestr, len(seen), "workspace", "gc"))
    seen.append(one_more(nestr, len(seen), "cache", "gc"))
    read_only(nestr, None, len(seen))

    user = f"{getpass.getuser()}@{socket.gethostname()}"
    assert {(r["actor"], r["face"], r["peer"], r["outcome"]) for r in seen} == {
        (user, "cli", None, "ok")
    }
    assert [r["seq"] for r in seen] == list(range(1, len(seen) + 1))
    assert [r["action"] for r in seen[6:]] == [
        "run.resume",
        "run.cancel",
        "workspace.remove",
        "workspace.gc",
        "cache.gc",
    ]
    assemble, lock, _, apply, fine = seen[:5]
    assert assemble["target"]["workspace"] == ws
    assert assemble["target"]["repos"] == ["api", "web"]
    assert lock["target"]["lock"] == str(manifest.parent / "nestr.lock")
    assert apply["target"]["repo_count"] == 2
    assert apply["target"]["conflicts"] == 0
    assert fine["target"]["workflow"] == "fine"
    assert len(fine["target"]["run"]) == 16
    assert seen[7]["target"] == {"run": broken, "result": "ended"}
    assert seen[10]["target"]["removed"] == 2
    assert len({r["correlation_id"] for r in seen}) == len(seen)  # one action per invocation
    assert nestr("audit", "verify").code == 0


def read_only(nestr: Any, ws: str | None, expected: int) -> None:
    """Read-only commands (of workspace ``ws`` while there is one) leave the trail as it was."""
    on_ws = () if ws is None else (("status", "-w", ws), ("sync", "plan", "-w", ws))
    for argv in (
        *on_ws,
        ("runs", "list"),
        ("events",),
        ("workspace", "list"),
        ("cache", "list"),
        ("cache", "gc", "--dry-run"),
        ("audit", "verify"),
        ("config", "show"),
    ):
        assert nestr(*argv).code in {0, 3}, argv
    assert len(records(nestr)) == expected


def test_refused_and_failed_actions_are_recorded(project: Project, nestr: Any) -> None:
    """A removal kept for local work is ``refused`` with the reason, a cancel of an unknown run
    ``refused`` with the error's class, a foreach whose command fails ``failed``."""
    manifest, ws = manifest_of(project), str(project.ws)
    assert nestr("assemble", "-m", str(manifest), "-w", ws).code == 0
    (project.ws / "api" / "new.txt").write_text("local work\n", encoding="utf-8")
    kept = one_more(nestr, 1, "workspace", "rm", ws, code=1)
    assert (kept["action"], kept["outcome"], kept["error"]) == (
        "workspace.remove",
        "refused",
        "holds local work",
    )
    assert kept["target"]["workspace"] == ws
    assert kept["target"]["reasons"]
    unknown = one_more(nestr, 2, "runs", "cancel", "nosuchrun", code=2)
    assert (unknown["action"], unknown["outcome"], unknown["error"]) == (
        "run.cancel",
        "refused",
        "NotFound",
    )
    failing = one_more(nestr, 3, "foreach", "-w", ws, "--", "false", code=1)
    assert (failing["outcome"], failing["error"]) == ("failed", "commands failed")
    assert failing["target"]["failed"] == ["api", "web"]


def test_list_filters_by_action_and_time(project: Project, nestr: Any) -> None:
    """--action keeps the records whose action starts so; --since a duration keeps recent
    ones, --since a time in the future none; the plain listing names actor and action."""
    for _ in range(2):
        assert nestr("workspace", "gc").code == 0
    assert nestr("cache", "gc").code == 0
    only = nestr("audit", "list", "--action", "workspace.", "--json")
    assert [r["action"] for r in json.loads(only.out)] == ["workspace.gc", "workspace.gc"]
    assert len(json.loads(nestr("audit", "list", "--since", "1h", "--json").out)) == 3
    assert json.loads(nestr("audit", "list", "--since", "2999-01-01", "--json").out) == []
    plain = nestr("audit", "list")
    assert "workspace.gc" in plain.out
    assert f"@{socket.gethostname()}" in plain.out


def tamper(project: Project, sql: str) -> None:
    """Change the store as someone with write access to the file could."""
    with sqlite3.connect(project.state_dir / "nestr.db") as conn:
        conn.execute(sql)
        # rows moved to negative seqs come back swapped: 2 takes 3's place and 3 takes 2's
        conn.execute("UPDATE audit SET seq = CASE seq WHEN -2 THEN 3 ELSE 2 END WHERE seq < 0")


@pytest.mark.parametrize(
    ("sql", "damage"),
    [
        ("UPDATE audit SET actor = 'mallory@elsewhere' WHERE seq = 2", "edited"),
        ("DELETE FROM audit WHERE seq = 2", "deleted"),
        ("UPDATE audit SET seq = 100 WHERE seq = 2", "deleted"),
        ("UPDATE audit SET seq = -seq WHERE seq IN (2, 3)", "reordered"),
    ],
)
def test_verify_names_the_first_bad_record(
    project: Project, nestr: Any, sql: str, damage: str
) -> None:
    """After an edited, a deleted or a moved row, verify exits 1 naming record 2 and how it
    was damaged; --json says the same."""
    for _ in range(4):
        assert nestr("workspace", "gc").code == 0
    assert nestr("audit", "verify").code == 0
    tamper(project, sql)
    result = nestr("audit", "verify")
    assert result.code == 1
    assert f"record 2: {damage}" in result.err
    report = json.loads(nestr("audit", "verify", "--json").out)
    assert report["ok"] is False
    assert (report["broken"]["seq"], report["broken"]["damage"]) == (2, damage)
    assert report["head"]["seq"] == 1


def test_an_edit_with_a_new_hash_names_the_edited_record(project: Project, nestr: Any) -> None:
    """A row changed and given the hash of its new content still breaks the chain at the next
    record, and verify names the edited one."""
    import hashlib

    for _ in range(3):
        assert nestr("workspace", "gc").code == 0
    with sqlite3.connect(project.state_dir / "nestr.db") as conn:
        row = conn.execute("SELECT * FROM audit WHERE seq = 2").fetchone()
        names = [c[0] for c in conn.execute("SELECT * FROM audit").description]
        fields = dict(zip(names, row, strict=True))
        fields.update(actor="mallory@elsewhere", target=json.loads(fields["target"]))
        del fields["hash"]
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        new = hashlib.sha256(text.encode()).hexdigest()
        conn.execute("UPDATE audit SET actor = ?, hash = ? WHERE seq = 2", (fields["actor"], new))
    result = nestr("audit", "verify", "--json")
    assert result.code == 1
    assert json.loads(result.out)["broken"]["seq"] == 2


def test_concurrent_processes_keep_one_chain(project: Project, nestr: Any) -> None:
    """Six nestr processes recording at once leave six records, numbered without gaps, whose
    chain verifies."""
    argv = [sys.executable, "-m", "nestr", "workspace", "gc"]
    procs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL) for _ in range(6)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 6
    found = records(nestr)
    assert [r["seq"] for r in found] == [1, 2, 3, 4, 5, 6]
    assert len({r["correlation_id"] for r in found}) == 6
    assert nestr("audit", "verify").code == 0


def test_actions_refused_while_resolving_their_target_are_recorded(
    project: Project, nestr: Any
) -> None:
    """assemble, foreach and sync apply of an unknown repo, a run of an unknown workflow and
    a resume of an unknown run are each one ``refused`` record of what was asked; status and
    sync plan refused the same way leave none."""
    manifest, ws = manifest_of(project), str(project.ws)
    assert nestr("assemble", "-m", str(manifest), "-w", ws).code == 0
    for argv in (
        ("status", "-w", ws, "--repo", "nope"),
        ("sync", "plan", "-w", ws, "--repo", "nope"),
    ):
        assert nestr(*argv).code == 2, argv
    assert len(records(nestr)) == 1
    cases = [
        (("assemble", "-m", str(manifest), "-w", ws, "--repo", "nope"), "workspace.assemble"),
        (("foreach", "-w", ws, "--repo", "nope", "--", "true"), "foreach"),
        (("sync", "apply", "-w", ws, "--repo", "nope"), "sync.apply"),
        (("run", "nosuch", "-w", ws), "run.start"),
        (("runs", "resume", "nosuchrun"), "run.resume"),
    ]
    for n, (argv, action) in enumerate(cases, start=1):
        record = one_more(nestr, n, *argv, code=2)
        assert (record["action"], record["outcome"]) == (action, "refused"), argv
        assert record["error"] in {"UsageError", "NotFound", "WorkflowDefinitionError"}, record
    found = records(nestr)
    assert found[1]["target"]["repos"] == ["nope"]
    assert found[4]["target"]["workflow"] == "nosuch"
    assert found[5]["target"] == {"run": "nosuchrun"}


def test_records_removed_from_the_end_are_found(project: Project, nestr: Any) -> None:
    """Deleting the newest record fails verify at that record, also after a new record was
    appended; the text names it as deleted."""
    for _ in range(3):
        assert nestr("workspace", "gc").code == 0
    tamper(project, "DELETE FROM audit WHERE seq = 3")
    result = nestr("audit", "verify")
    assert result.code == 1
    assert "record 3: deleted: record 3 missing at the end" in result.err
    assert nestr("workspace", "gc").code == 0  # the next record is numbered 4: a gap at 3
    again = json.loads(nestr("audit", "verify", "--json").out)["broken"]
    assert (again["seq"], again["damage"]) == (3, "deleted")


def test_a_kept_head_catches_a_tidy_truncation(project: Project, nestr: Any) -> None:
    """A head printed earlier, given to --head, fails verify once its record is gone, even when
    the counter of used numbers was reset to hide it; a malformed --head is exit 2."""
    for _ in range(3):
        assert nestr("workspace", "gc").code == 0
    head = json.loads(nestr("audit", "verify", "--json").out)["head"]
    kept = f"{head['seq']}:{head['hash']}"
    assert nestr("audit", "verify", "--head", kept).code == 0
    tamper(project, "DELETE FROM audit WHERE seq = 3")
    tamper(project, "UPDATE sqlite_sequence SET seq = 2 WHERE name = 'audit'")
    assert nestr("audit", "verify").code == 0  # the chain alone cannot tell
    result = nestr("audit", "verify", "--head", kept)
    assert result.code == 1
    assert "record 3: deleted" in result.err
    bad = nestr("audit", "verify", "--head", "3:nothex")
    assert bad.code == 2
    assert "SEQ:HASH" in bad.err


def test_a_foreach_record_hides_secrets_in_the_command(project: Project, nestr: Any) -> None:
    """The command a foreach record shows keeps its words but not a URL's password."""
    manifest, ws = manifest_of(project), str(project.ws)
    assert nestr("assemble", "-m", str(manifest), "-w", ws).code == 0
    argv = ("foreach", "-w", ws, "--", "echo", "https://bob:hunter2@example.com/x")
    record = one_more(nestr, 1, *argv)
    shown = " ".join(record["target"]["command"])
    assert shown.startswith("echo https://bob:")
    assert "example.com/x" in shown
    assert "hunter2" not in json.dumps(records(nestr))
