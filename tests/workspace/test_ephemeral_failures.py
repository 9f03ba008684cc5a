"""An ephemeral workspace that ends with nothing in it is removed at once, not left to expire."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.workspace.assembly_helpers import Project, make_project, upstream_templates

from nestr.events import Event, EventBus
from nestr.workspace.assemble import AssembleOptions, assemble
from nestr.workspace.registry import ephemeral_root, registered


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path, upstream_templates(tmp_path_factory))


def test_ephemeral_assembly_where_every_repo_failed_is_removed(
    project: Project, nestr: Any
) -> None:
    """Every repo failed: exit 1, the result says discarded, no directory, no registration."""
    manifest = project.manifest(project.spec("api", "no-such-branch"), project.spec("web", "nope"))
    result = nestr("assemble", "-m", str(manifest.path), "--ephemeral", "--json")
    assert result.code == 1
    data = json.loads(result.out)
    assert data["discarded"] is True
    assert data["counts"] == {"failed": 2}
    assert not ephemeral_root(project.state_dir, data["workspace_id"]).exists()
    assert registered(project.state_dir) == []
    assert "removed the ephemeral workspace" in result.err
    listed = nestr("workspace", "list", "--json")
    assert json.loads(listed.out) == {"workspaces": []}


def test_ephemeral_assembly_with_one_good_repo_is_kept(project: Project, nestr: Any) -> None:
    """A partial failure keeps the workspace (its good repos are usable) until it expires."""
    manifest = project.manifest(project.spec("api"), project.spec("web", "nope"))
    result = nestr("assemble", "-m", str(manifest.path), "--ephemeral", "--json")
    assert result.code == 1
    data = json.loads(result.out)
    assert data["discarded"] is False
    assert (Path(data["workspace"]) / "api" / ".git").is_dir()
    assert [e.id for e in registered(project.state_dir)] == [data["workspace_id"]]


def test_aborted_ephemeral_assembly_is_removed(project: Project) -> None:
    """Cancelling the assembly once its repos started leaves no directory and no entry."""
    manifest = project.manifest(project.spec("api"), project.spec("web"))
    root = ephemeral_root(project.state_dir, "abort0000001")
    options = AssembleOptions(
        cache_dir=project.cache_dir, state_dir=project.state_dir, ttl=timedelta(hours=1)
    )
    seen: list[str] = []

    async def main() -> None:
        bus = EventBus()
        task = asyncio.current_task()
        assert task is not None

        def on_event(event: Event) -> None:
            seen.append(event.type)
            if event.type.endswith("repo.started") and len(registered(project.state_dir)) == 1:
                task.cancel()  # registered and under way: abort here

        bus.add_listener(on_event)
        await assemble(manifest, root, options, bus=bus)

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())
    assert "nestr.workspace.repo.started" in seen
    assert seen[-1] == "nestr.workspace.assembly.discarded"
    assert not root.exists()
    assert registered(project.state_dir) == []


def test_failed_persistent_workspace_is_never_removed(project: Project, nestr: Any) -> None:
    """Only a workspace the run created as ephemeral is discarded; -w keeps what failed."""
    manifest = project.manifest(project.spec("api", "no-such-branch"))
    result = nestr("assemble", "-m", str(manifest.path), "-w", str(project.ws), "--json")
    assert result.code == 1
    assert json.loads(result.out)["discarded"] is False
    assert (project.ws / ".nestr" / "workspace.json").is_file()
    assert len(registered(project.state_dir)) == 1
