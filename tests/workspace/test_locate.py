"""The one rule for which manifest and which workspace an action uses (nestr.workspace.locate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nestr.errors import UsageError
from nestr.workspace.locate import assembly_root, locate, manifest_path, workspace_at
from nestr.workspace.record import Workspace, write_record


@dataclass(frozen=True)
class Layout:
    """A project with nestr.yaml, a workspace assembled elsewhere from another manifest, a
    repo inside that workspace that has a nestr.yaml of its own, and a directory outside all."""

    project: Path  # holds nestr.yaml
    other: Path  # holds the manifest the workspace was assembled from
    ws: Path  # the workspace root
    repo: Path  # ws/app, a repo with its own nestr.yaml
    plain: Path  # ws/lib, a repo without one
    outside: Path  # no manifest above, no workspace


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    project, other, ws, outside = (tmp_path / n for n in ("project", "other", "ws", "outside"))
    for directory in (project, other, ws / "app", ws / "lib", outside):
        directory.mkdir(parents=True)
    for manifest in (project / "nestr.yaml", other / "nestr.yaml", ws / "app" / "nestr.yaml"):
        manifest.write_text("repos: []\n", encoding="utf-8")
    write_record(Workspace(ws, other / "nestr.yaml", "w1", datetime.now(UTC)))
    return Layout(project, other, ws, ws / "app", ws / "lib", outside)


def test_manifest_rule_for_actions_that_read_a_manifest(layout: Layout) -> None:
    """-m wins, then -w's record, then nestr.yaml upward, then the enclosing workspace's."""
    explicit = layout.other / "nestr.yaml"
    table = [
        (layout.outside, Path("../project/nestr.yaml"), None, layout.project / "nestr.yaml"),
        (layout.outside, None, Path("../ws"), explicit),
        (layout.project, None, None, layout.project / "nestr.yaml"),
        (layout.repo, None, None, layout.repo / "nestr.yaml"),  # upward beats the workspace
        (layout.plain, None, None, explicit),  # none upward: the workspace's
    ]
    for cwd, manifest, workspace, expected in table:
        assert manifest_path(cwd, manifest, workspace) == expected.resolve(), (cwd, manifest)
    with pytest.raises(UsageError, match=r"no nestr.yaml found in .*outside") as caught:
        manifest_path(layout.outside)
    assert caught.value.hint == "pass -m FILE, or run nestr where a nestr.yaml is"


def test_workspace_rule_for_actions_on_a_workspace(layout: Layout) -> None:
    """-w, else the enclosing workspace; the manifest is -m, else the one the workspace
    records (even inside a repo that has a nestr.yaml); no workspace is an error."""
    recorded = layout.other / "nestr.yaml"
    inside = locate(layout.repo)
    assert inside.workspace is not None
    assert inside.workspace.root == layout.ws
    assert inside.manifest_path == recorded
    named = locate(layout.outside, workspace=Path("../ws"), manifest=Path("../project/nestr.yaml"))
    assert named.workspace is not None
    assert named.workspace.root == layout.ws
    assert named.manifest_path == (layout.project / "nestr.yaml").resolve()
    with pytest.raises(UsageError, match="not inside a nestr workspace"):
        locate(layout.project)
    with pytest.raises(UsageError, match="is not a nestr workspace"):
        locate(layout.project, workspace=Path())


def test_optional_workspace_rule_for_run(layout: Layout) -> None:
    """Without a workspace the manifest is found as a reader finds it; a -w that is no
    workspace is still an error."""
    alone = locate(layout.project, workspace_required=False)
    assert alone.workspace is None
    assert alone.manifest_path == (layout.project / "nestr.yaml").resolve()
    inside = locate(layout.repo, workspace_required=False)
    assert inside.workspace is not None
    assert inside.manifest_path == layout.other / "nestr.yaml"
    with pytest.raises(UsageError, match="is not a nestr workspace"):
        locate(layout.project, workspace=Path(), workspace_required=False)
    assert workspace_at(layout.outside, required=False) is None


def test_assembly_root_rule(layout: Layout, tmp_path: Path) -> None:
    """-w, else a new directory under the state dir (--ephemeral), else the enclosing
    workspace, else the manifest's directory; -w with --ephemeral is refused."""
    state = tmp_path / "state"

    def root(cwd: Path, workspace: Path | None = None, ephemeral: bool = False) -> Path:
        where, _ = assembly_root(
            cwd,
            manifest_root=layout.project,
            workspace=workspace,
            ephemeral=ephemeral,
            state_dir=state,
        )
        return where

    assert root(layout.outside, Path("new")) == layout.outside / "new"
    assert root(layout.repo) == layout.ws
    assert root(layout.outside) == layout.project
    where, wid = assembly_root(
        layout.repo, manifest_root=layout.project, workspace=None, ephemeral=True, state_dir=state
    )
    assert wid is not None
    assert where.is_relative_to(state)
    assert wid in where.name
    with pytest.raises(UsageError, match="--ephemeral and -w cannot be used together"):
        root(layout.outside, Path("new"), ephemeral=True)
