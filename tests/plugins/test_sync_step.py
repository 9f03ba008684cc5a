"""The ``sync.apply`` workflow step, driven through a whole attempt by nestr.testing."""

from __future__ import annotations

from collections.abc import Callable

from tests.sync.sync_helpers import Fleet, write_manifest

from nestr.testing import git
from nestr.testing.steps import run_step_sync

SYNC = "sync:\n  sources: [{path: shared}]\n  rules:\n    - {files: [a.cfg]}\n"


def test_step_applies_and_commits(fleet: Callable[..., Fleet]) -> None:
    """sync.apply writes and commits the shared files and reports counts as outputs."""
    f = fleet(["api", "web"])
    f.source({"a.cfg": "1\n2\n3\n"})
    manifest = write_manifest(f, SYNC)
    ws = f.workspace.root
    run = run_step_sync(
        "sync.apply", cwd=ws, root=ws, manifest_path=manifest, with_={"commit": True}
    )
    assert run.status == "succeeded", run
    assert run.outputs == {"written": "2", "conflicts": "0", "commits": "2"}
    assert (
        git(f.repo("web"), "show", "--format=", "--name-only", "HEAD") == ".nestr/sync.lock\na.cfg"
    )


def test_step_fails_on_conflicts_unless_allowed(fleet: Callable[..., Fleet]) -> None:
    """Conflicts left fail the step (returncode 3) unless allow_conflicts is set."""
    f = fleet(["api"])
    f.source({"a.cfg": "1\n2\n3\n"})
    manifest = write_manifest(f, SYNC)
    ws = f.workspace.root
    assert (
        run_step_sync("sync.apply", cwd=ws, root=ws, manifest_path=manifest).status == "succeeded"
    )
    (f.repo("api") / "a.cfg").write_text("1\nlocal\n3\n")
    f.source({"a.cfg": "1\nsource\n3\n"})
    failed = run_step_sync("sync.apply", cwd=ws, root=ws, manifest_path=manifest)
    assert failed.status == "failed"
    assert failed.returncode == 3
    allowed = run_step_sync(
        "sync.apply", cwd=ws, root=ws, manifest_path=manifest, with_={"allow_conflicts": True}
    )
    assert allowed.status == "succeeded"
    assert allowed.outputs["conflicts"] == "1"
    assert (f.repo("api") / "a.cfg").read_text() == "1\nlocal\n3\n"


def test_step_in_a_foreach_syncs_only_its_repo(fleet: Callable[..., Fleet]) -> None:
    """Given a repo (foreach), sync.apply touches only that repo."""
    f = fleet(["api", "web"])
    f.source({"a.cfg": "1\n"})
    manifest = write_manifest(f, SYNC)
    ws = f.workspace.root
    web = next(s for s in f.specs if s.name == "web")
    run = run_step_sync(
        "sync.apply", cwd=f.repo("web"), root=ws, manifest_path=manifest, repo=web,
        repo_dir=f.repo("web"),
    )  # fmt: skip
    assert run.status == "succeeded", run
    assert (f.repo("web") / "a.cfg").exists()
    assert not (f.repo("api") / "a.cfg").exists()
