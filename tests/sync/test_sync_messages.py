"""What sync tells the user: next steps after conflicts, file states, saved overwritten edits."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.sync.sync_helpers import Fleet, write_manifest

from nestr.sync import ApplyOptions, ConflictMode, Drift, sync_status
from nestr.testing import git

BASE = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n"
SYNC = "sync:\n  sources: [{path: shared}]\n  rules:\n    - files: [settings.cfg]\n"
RULES = {"sources": [{"path": "shared"}], "rules": [{"files": ["settings.cfg"]}]}


def _conflicting(fleet: Callable[..., Fleet]) -> Fleet:
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    write_manifest(f, SYNC)
    f.apply(RULES)
    (f.repo("api") / "settings.cfg").write_text(BASE.replace("c = 3", "c = local"))
    f.source({"settings.cfg": BASE.replace("c = 3", "c = source")})
    return f


def test_markers_apply_says_resolve_the_markers_not_apply_with_markers(
    fleet: Callable[..., Fleet], nestr
) -> None:  # type: ignore[no-untyped-def]
    """After --conflicts markers the next step is to resolve the markers and commit."""
    f = _conflicting(fleet)
    result = nestr("sync", "apply", "-w", str(f.workspace.root), "--conflicts", "markers")
    assert result.code == 3, result
    assert "--conflicts=markers" not in result.out
    assert "1 conflict(s) written with markers" in result.out
    assert "remove the markers, and commit" in result.out


def test_skip_apply_suggests_markers_and_says_files_were_left(
    fleet: Callable[..., Fleet], nestr
) -> None:  # type: ignore[no-untyped-def]
    """With the default --conflicts skip, the files were left untouched; markers are an option."""
    f = _conflicting(fleet)
    result = nestr("sync", "apply", "-w", str(f.workspace.root))
    assert result.code == 3, result
    assert "1 conflict(s) left untouched: resolve them by hand, or apply with" in result.out
    assert "--conflicts=markers" in result.out


def test_status_names_merged_edits_and_markers_accurately(
    fleet: Callable[..., Fleet], nestr
) -> None:  # type: ignore[no-untyped-def]
    """A cleanly merged file holds local edits (not "drifted"); a marked one holds markers."""
    f = fleet(["api", "web"])
    f.source({"settings.cfg": BASE})
    write_manifest(f, SYNC)
    f.apply(RULES)
    (f.repo("api") / "settings.cfg").write_text(BASE.replace("e = 5", "e = local"))
    (f.repo("web") / "settings.cfg").write_text(BASE.replace("c = 3", "c = local"))
    f.source({"settings.cfg": BASE.replace("c = 3", "c = source")})
    f.apply(RULES, ApplyOptions(conflicts=ConflictMode.MARKERS))
    states = {s.repo: s.files[0].state for s in sync_status(f.manifest(RULES), f.workspace)}
    assert states == {"api": Drift.MODIFIED, "web": Drift.CONFLICT}
    text = nestr("sync", "status", "-w", str(f.workspace.root))
    assert text.code == 0, text
    assert "drifted" not in text.out
    assert "api: 1 managed (1 local edits)\n  local edits      settings.cfg\n" in text.out
    assert "web: 1 managed (1 conflict markers)\n  conflict markers settings.cfg\n" in text.out


def test_overwrite_saves_the_discarded_edit_as_a_blob(fleet: Callable[..., Fleet], nestr) -> None:  # type: ignore[no-untyped-def]
    """policy: overwrite stores the local edit it discards; `git cat-file -p <id>` gives it back."""
    f = fleet(["api"])
    f.source({"settings.cfg": BASE})
    write_manifest(
        f, SYNC.replace("- files: [settings.cfg]", "- {files: [settings.cfg], policy: overwrite}")
    )
    ws = str(f.workspace.root)
    assert nestr("sync", "apply", "-w", ws).code == 0
    mine = "my precious edit\n"
    (f.repo("api") / "settings.cfg").write_text(mine)
    f.source({"settings.cfg": BASE + "f = 6\n"})
    result = nestr("sync", "apply", "-w", ws, "--json")
    assert result.code == 0, result
    item = json.loads(result.out)["repos"][0]["files"][0]
    assert item["action"] == "update"
    blob = item["saved_blob"]
    assert git(f.repo("api"), "cat-file", "-p", blob) + "\n" == mine
    assert (f.repo("api") / "settings.cfg").read_text() == BASE + "f = 6\n"
    events = nestr("events", "--json").out.splitlines()
    updated = [json.loads(e) for e in events if '"nestr.sync.file.updated"' in e]
    assert updated[-1]["data"]["saved_blob"] == blob
