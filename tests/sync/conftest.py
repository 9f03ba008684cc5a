"""Real workspaces for sync tests: repos cloned from a session template, records by hand."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.sync.sync_helpers import Fleet, clone_origin

from nestr.manifest.model import RepoSpec
from nestr.testing import GitRepo, isolated_environ
from nestr.workspace.record import Workspace, write_record


@pytest.fixture(scope="session")
def origin_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One origin repo (README + app.py), built once per session and copied per repo."""
    root = tmp_path_factory.mktemp("sync-template")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in isolated_environ(root / "env").items():
            mp.setenv(key, value)
        repo = GitRepo.init(root / "origin", files={"README.md": "# app\n", "app.py": "x = 1\n"})
    return repo.path


@pytest.fixture
def fleet(tmp_path: Path, origin_template: Path) -> Callable[..., Fleet]:
    """``fleet(["api", "web"], groups={"api": ["backend"]}, vars={...})`` builds a workspace."""

    def build(
        names: Sequence[str] = ("api", "web"),
        *,
        groups: Mapping[str, Sequence[str]] | None = None,
        vars: Mapping[str, Mapping[str, Any]] | None = None,
        root: Path | None = None,
    ) -> Fleet:
        base = root or tmp_path
        ws_root = base / "ws"
        shared = ws_root / "shared"
        shared.mkdir(parents=True)
        specs, origins = [], {}
        for name in names:
            origin, _ = clone_origin(origin_template, base, name)
            origins[name] = origin
            specs.append(
                RepoSpec(
                    name=name,
                    url=origin.as_uri(),
                    revision="main",
                    path=name,
                    groups=tuple((groups or {}).get(name, ())),
                    vars=dict((vars or {}).get(name, {})),
                )
            )
        workspace = Workspace(
            root=ws_root.resolve(),
            manifest_path=ws_root.resolve() / "nestr.yaml",
            id="syncws",
            created=datetime.now(UTC),
        )
        write_record(workspace)
        return Fleet(base, workspace, specs, shared, origins)

    return build
