"""Planning and applying against real repos: every action, the lock, and what lands on disk."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.sync.sync_helpers import Fleet, actions

from nestr.sync import ApplyOptions, ConflictMode
from nestr.sync.content import blob_id
from nestr.testing import git

RULES = {"sources": [{"path": "shared"}], "rules": [{"files": ["settings.cfg"]}]}
BASE = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n"


def test_first_sync_creates_files_and_records_their_blobs(fleet: Callable[..., Fleet]) -> None:
    """A new file is created in every repo and the lock records the blob, present in the repo."""
    f = fleet()
    f.source({"settings.cfg": BASE})
    assert set(actions(f.plan(RULES)).values()) == {"create"}
    result = f.apply(RULES)
    assert result.exit_code() == 0
    for name in ("api", "web"):
        assert (f.repo(name) / "settings.cfg").read_text() == BASE
        lock = json.loads((f.repo(name) / ".nestr/sync.lock").read_text())
        blob = lock["files"]["settings.cfg"]["blob"]
        assert blob == blob_id(BASE.encode())
        assert git(f.repo(name), "cat-file", "-p", blob) + "\n" == BASE
    assert set(actions(f.plan(RULES)).values()) == {"unchanged"}


def test_source_change_updates_unmodified_targets(fleet: Callable[..., Fleet]) -> None:
    """A target untouched since the last sync takes the new source content."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    f.apply(RULES)
    f.source({"settings.cfg": BASE.replace("a = 1", "a = 10")})
    assert actions(f.plan(RULES)) == {("api", "settings.cfg"): "update"}
    f.apply(RULES)
    assert "a = 10" in (f.repo("api") / "settings.cfg").read_text()


def test_local_edit_alone_is_kept(fleet: Callable[..., Fleet]) -> None:
    """When only the repo changed the file, sync keeps the edit and writes nothing."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    f.apply(RULES)
    edited = BASE.replace("c = 3", "c = local")
    (f.repo("api") / "settings.cfg").write_text(edited)
    assert actions(f.plan(RULES)) == {("api", "settings.cfg"): "keep-local"}
    f.apply(RULES)
    assert (f.repo("api") / "settings.cfg").read_text() == edited


def test_edits_on_different_lines_merge_and_base_stays_the_source(
    fleet: Callable[..., Fleet],
) -> None:
    """Both sides changed different lines: merged text on disk, the source recorded as base."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    f.apply(RULES)
    (f.repo("api") / "settings.cfg").write_text(BASE.replace("e = 5", "e = local"))
    new_source = BASE.replace("a = 1", "a = 10")
    f.source({"settings.cfg": new_source})
    assert actions(f.plan(RULES)) == {("api", "settings.cfg"): "merge"}
    result = f.apply(RULES)
    assert result.exit_code() == 0
    text = (f.repo("api") / "settings.cfg").read_text()
    assert "a = 10" in text
    assert "e = local" in text
    lock = json.loads((f.repo("api") / ".nestr/sync.lock").read_text())
    assert lock["files"]["settings.cfg"]["blob"] == blob_id(new_source.encode())
    # the local edit is still a local edit at the next sync
    assert actions(f.plan(RULES)) == {("api", "settings.cfg"): "keep-local"}


def test_overlapping_edits_conflict_and_leave_the_file_untouched(
    fleet: Callable[..., Fleet],
) -> None:
    """Both sides changed the same line: conflict, exit 3, file and lock unchanged."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    f.apply(RULES)
    local = BASE.replace("c = 3", "c = local")
    (f.repo("api") / "settings.cfg").write_text(local)
    lock_before = (f.repo("api") / ".nestr/sync.lock").read_text()
    f.source({"settings.cfg": BASE.replace("c = 3", "c = source")})
    result = f.apply(RULES)
    assert actions(result) == {("api", "settings.cfg"): "conflict"}
    assert result.exit_code() == 3
    assert (f.repo("api") / "settings.cfg").read_text() == local
    assert (f.repo("api") / ".nestr/sync.lock").read_text() == lock_before


def test_conflict_markers_are_written_on_request(fleet: Callable[..., Fleet]) -> None:
    """--conflicts=markers writes both sides with markers, and records the source as base."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    f.apply(RULES)
    (f.repo("api") / "settings.cfg").write_text(BASE.replace("c = 3", "c = local"))
    f.source({"settings.cfg": BASE.replace("c = 3", "c = source")})
    result = f.apply(RULES, ApplyOptions(conflicts=ConflictMode.MARKERS))
    assert result.exit_code() == 3
    text = (f.repo("api") / "settings.cfg").read_text()
    assert "<<<<<<< repo" in text
    assert "c = local" in text
    assert "c = source" in text
    assert ">>>>>>> source" in text


def test_missing_base_blob_is_a_conflict_never_an_overwrite(fleet: Callable[..., Fleet]) -> None:
    """If the recorded base cannot be found in the repo, both-changed files conflict."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    f.apply(RULES)
    lock_path = f.repo("api") / ".nestr/sync.lock"
    lock = json.loads(lock_path.read_text())
    lock["files"]["settings.cfg"]["blob"] = "0" * 40
    lock_path.write_text(json.dumps(lock))
    (f.repo("api") / "settings.cfg").write_text(BASE.replace("e = 5", "e = local"))
    f.source({"settings.cfg": BASE.replace("a = 1", "a = 10")})
    plan = f.plan(RULES)
    assert actions(plan) == {("api", "settings.cfg"): "conflict"}
    assert "not in the repo's objects" in plan.repos[0].files[0].detail


def test_existing_unmanaged_file_is_refused_then_adopted(fleet: Callable[..., Fleet]) -> None:
    """A file nestr never wrote is refused; --adopt merges it on the lines both share."""
    f = fleet(["api"])
    f.source({"README.md": "# app\nabout\nusage\nshared line\n"})
    (f.repo("api") / "README.md").write_text("local notes\n# app\nabout\nusage\n")
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["README.md"]}]}
    result = f.apply(rules)
    assert actions(result) == {("api", "README.md"): "adopt-refused"}
    assert (f.repo("api") / "README.md").read_text() == "local notes\n# app\nabout\nusage\n"
    assert not (f.repo("api") / ".nestr/sync.lock").exists()
    result = f.apply(rules, adopt=True)
    assert actions(result) == {("api", "README.md"): "merge"}
    merged = "local notes\n# app\nabout\nusage\nshared line\n"
    assert (f.repo("api") / "README.md").read_text() == merged
    lock = json.loads((f.repo("api") / ".nestr/sync.lock").read_text())
    assert lock["files"]["README.md"]["blob"] == blob_id(b"# app\nabout\nusage\nshared line\n")
    # the repo's extra lines are its local edit from now on
    assert actions(f.plan(rules)) == {("api", "README.md"): "keep-local"}


def test_adopt_with_markers_shows_differences_for_review(fleet: Callable[..., Fleet]) -> None:
    """Adopting text that differs in the same place conflicts; markers keep both versions."""
    f = fleet(["api"])
    f.source({"app.py": "x = 2\n"})
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["app.py"]}]}
    result = f.apply(rules, ApplyOptions(conflicts=ConflictMode.MARKERS), adopt=True)
    assert actions(result) == {("api", "app.py"): "conflict"}
    text = (f.repo("api") / "app.py").read_text()
    assert "<<<<<<< repo\nx = 1\n=======\nx = 2\n>>>>>>> source\n" in text
    lock = json.loads((f.repo("api") / ".nestr/sync.lock").read_text())
    assert lock["files"]["app.py"]["blob"] == blob_id(b"x = 2\n")


def test_identical_unmanaged_file_is_taken_over(fleet: Callable[..., Fleet]) -> None:
    """An existing file that already equals the source is recorded without --adopt."""
    f = fleet(["api"])
    f.source({"README.md": "# app\n"})
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["README.md"]}]}
    assert actions(f.apply(rules)) == {("api", "README.md"): "unchanged"}
    lock = json.loads((f.repo("api") / ".nestr/sync.lock").read_text())
    assert lock["files"]["README.md"]["blob"] == blob_id(b"# app\n")


def test_adopt_conflict_keeps_the_existing_file(fleet: Callable[..., Fleet]) -> None:
    """Adopting a file whose text differs everywhere is a conflict; the file stays as it was."""
    f = fleet(["api"])
    f.source({"app.py": "y = 2\n"})
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["app.py"]}]}
    result = f.apply(rules, adopt=True)
    assert actions(result) == {("api", "app.py"): "conflict"}
    assert (f.repo("api") / "app.py").read_text() == "x = 1\n"


def test_local_delete_is_respected(fleet: Callable[..., Fleet]) -> None:
    """A managed file the repo deleted is not recreated (skip-deleted)."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    f.apply(RULES)
    (f.repo("api") / "settings.cfg").unlink()
    f.source({"settings.cfg": BASE + "f = 6\n"})
    result = f.apply(RULES)
    assert actions(result) == {("api", "settings.cfg"): "skip-deleted"}
    assert not (f.repo("api") / "settings.cfg").exists()


def test_delete_removes_only_unmodified_targets(fleet: Callable[..., Fleet]) -> None:
    """delete: true removes a file dropped from the source where unmodified, keeps it if edited."""
    f = fleet(["api", "web"])
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["conf/*.cfg"], "delete": True}]}
    f.source({"conf/one.cfg": "one\n", "conf/two.cfg": "two\n"})
    f.apply(rules)
    (f.repo("web") / "conf/two.cfg").write_text("two\nlocal\n")
    f.source({"conf/two.cfg": None})
    result = f.apply(rules)
    got = actions(result)
    assert got[("api", "conf/two.cfg")] == "delete"
    assert got[("web", "conf/two.cfg")] == "keep-local"
    assert not (f.repo("api") / "conf/two.cfg").exists()
    assert (f.repo("web") / "conf/two.cfg").read_text() == "two\nlocal\n"
    lock = json.loads((f.repo("web") / ".nestr/sync.lock").read_text())
    assert "conf/two.cfg" not in lock["files"]


def test_crlf_target_stays_crlf(fleet: Callable[..., Fleet]) -> None:
    """A CRLF target is unmodified by line endings alone, and stays CRLF when updated."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    f.apply(RULES)
    path = f.repo("api") / "settings.cfg"
    path.write_bytes(BASE.replace("\n", "\r\n").encode())
    assert actions(f.plan(RULES)) == {("api", "settings.cfg"): "unchanged"}
    f.source({"settings.cfg": BASE.replace("a = 1", "a = 10")})
    assert actions(f.plan(RULES)) == {("api", "settings.cfg"): "update"}
    f.apply(RULES)
    assert path.read_bytes() == BASE.replace("a = 1", "a = 10").replace("\n", "\r\n").encode()


def test_crlf_target_with_local_edit_merges_and_stays_crlf(fleet: Callable[..., Fleet]) -> None:
    """A CRLF file edited locally merges with an LF source and is written back in CRLF."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    f.apply(RULES)
    path = f.repo("api") / "settings.cfg"
    path.write_bytes(BASE.replace("e = 5", "e = local").replace("\n", "\r\n").encode())
    f.source({"settings.cfg": BASE.replace("a = 1", "a = 10")})
    assert f.apply(RULES).exit_code() == 0
    expected = BASE.replace("a = 1", "a = 10").replace("e = 5", "e = local")
    assert path.read_bytes() == expected.replace("\n", "\r\n").encode()


def test_binary_files_are_never_merged(fleet: Callable[..., Fleet]) -> None:
    """A binary changed on both sides is a conflict; unmodified binaries are updated."""
    f = fleet(["api", "web"])
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["logo.bin"]}]}
    f.source({"logo.bin": b"\x00\x01\x02v1"})
    f.apply(rules)
    (f.repo("web") / "logo.bin").write_bytes(b"\x00\x01\x02local")
    f.source({"logo.bin": b"\x00\x01\x02v2"})
    result = f.apply(rules)
    got = actions(result)
    assert got == {("api", "logo.bin"): "update", ("web", "logo.bin"): "conflict"}
    assert (f.repo("api") / "logo.bin").read_bytes() == b"\x00\x01\x02v2"
    assert (f.repo("web") / "logo.bin").read_bytes() == b"\x00\x01\x02local"


def test_mode_is_set_and_enforced(fleet: Callable[..., Fleet]) -> None:
    """`mode` sets permissions on write, and a file whose mode drifted is updated back."""
    f = fleet(["api"])
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["run.sh"], "mode": "0755"}]}
    f.source({"run.sh": "#!/bin/sh\necho hi\n"})
    f.apply(rules)
    path = f.repo("api") / "run.sh"
    assert path.stat().st_mode & 0o777 == 0o755
    path.chmod(0o644)
    assert actions(f.plan(rules)) == {("api", "run.sh"): "update"}
    f.apply(rules)
    assert path.stat().st_mode & 0o777 == 0o755


def test_existing_mode_is_preserved_on_update(fleet: Callable[..., Fleet]) -> None:
    """Without `mode`, an update keeps the permissions the target file had."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    f.apply(RULES)
    path = f.repo("api") / "settings.cfg"
    path.chmod(0o600)
    f.source({"settings.cfg": BASE + "z = 0\n"})
    f.apply(RULES)
    assert path.stat().st_mode & 0o777 == 0o600


def test_overwrite_policy_replaces_local_edits(fleet: Callable[..., Fleet]) -> None:
    """policy: overwrite takes the source even over a local edit."""
    f = fleet(["api"])
    rules = {
        "sources": [{"path": "shared"}],
        "rules": [{"files": ["settings.cfg"], "policy": "overwrite"}],
    }
    f.source({"settings.cfg": BASE})
    f.apply(rules)
    (f.repo("api") / "settings.cfg").write_text("mine\n")
    f.source({"settings.cfg": BASE + "z\n"})
    assert actions(f.apply(rules)) == {("api", "settings.cfg"): "update"}
    assert (f.repo("api") / "settings.cfg").read_text() == BASE + "z\n"


def test_create_only_never_touches_an_existing_file(fleet: Callable[..., Fleet]) -> None:
    """policy: create-only creates a missing file once and never updates it."""
    f = fleet(["api"])
    rules = {
        "sources": [{"path": "shared"}],
        "rules": [{"files": ["settings.cfg"], "policy": "create-only"}],
    }
    f.source({"settings.cfg": BASE})
    f.apply(rules)
    f.source({"settings.cfg": "changed\n"})
    assert actions(f.apply(rules)) == {("api", "settings.cfg"): "unchanged"}
    assert (f.repo("api") / "settings.cfg").read_text() == BASE


def test_commit_with_nothing_new_for_git_is_not_an_error(fleet: Callable[..., Fleet]) -> None:
    """Restoring a drifted mode to what HEAD holds leaves nothing to commit, and that is fine."""
    f = fleet(["api"])
    rules = {"sources": [{"path": "shared"}], "rules": [{"files": ["run.sh"], "mode": "0755"}]}
    f.source({"run.sh": "#!/bin/sh\n"})
    f.apply(rules, ApplyOptions(commit=True))
    head = git(f.repo("api"), "rev-parse", "HEAD")
    (f.repo("api") / "run.sh").chmod(0o644)
    result = f.apply(rules, ApplyOptions(commit=True))
    assert result.repos[0].error is None
    assert result.repos[0].commit is None
    assert git(f.repo("api"), "rev-parse", "HEAD") == head
    assert (f.repo("api") / "run.sh").stat().st_mode & 0o777 == 0o755


def test_non_utf8_text_merges_byte_exact(fleet: Callable[..., Fleet]) -> None:
    """Latin-1 text changed on both sides merges with every byte kept (base read byte-exact)."""
    f = fleet(["api"])
    base = "caf\xe9 = 1\nb = 2\nc = 3\nd = 4\ne = 5\n".encode("latin-1")
    f.source({"settings.cfg": base})
    f.apply(RULES)
    (f.repo("api") / "settings.cfg").write_bytes(base.replace(b"e = 5", b"e = \xe9t\xe9"))
    f.source({"settings.cfg": base.replace(b"b = 2", b"b = 20")})
    result = f.apply(RULES)
    assert actions(result) == {("api", "settings.cfg"): "merge"}
    expected = base.replace(b"b = 2", b"b = 20").replace(b"e = 5", b"e = \xe9t\xe9")
    assert (f.repo("api") / "settings.cfg").read_bytes() == expected
