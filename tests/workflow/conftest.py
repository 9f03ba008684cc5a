"""Workflow tests: a manifest on disk, a state dir, and a way to run a workflow in-process."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nestr.manifest.loader import load_manifest
from nestr.workflow import ExecutorOptions, RunResult, run_workflow
from nestr.workflow.registry import StepRegistry

# A workflow whose last step fails: the compensations of a, b and c run latest-first along the
# needs (through ``plain``, which has none), b's reads b's output, and side's fails its first try
# (its step's retry policy runs it again); both executors run it.
CHAIN = """
wf:
  steps:
    - id: a
      run: echo a
      compensate: {shell: true, run: echo "undo a" >> undo}
    - id: b
      needs: [a]
      shell: true
      run: echo "branch=feature-b" >> "$NESTR_OUTPUT"
      compensate:
        shell: true
        run: echo "undo b ${{ steps.b.outputs.branch }}" >> undo
    - id: plain
      needs: [b]
      run: echo no compensation here
    - id: c
      needs: [plain]
      run: echo c
      compensate: {shell: true, run: echo "undo c" >> undo}
    - id: side
      run: echo independent
      retry: {attempts: 2, initial: 0.01, jitter: false}
      compensate:
        shell: true
        run: echo "undo side" >> side-undo; test "$(wc -l < side-undo)" -ge 2
    - id: boom
      needs: [c]
      run: "false"
      compensate: {shell: true, run: echo "undo boom" >> undo}
"""


def assert_chain_compensated(root: Path, result: RunResult) -> None:
    """What a run of :data:`CHAIN` in ``root`` must have done on any executor: failed at
    ``boom``, then undone c, b (with b's output) and a latest-first, and side in two tries."""
    assert (result.status, result.compensation) == ("failed", "succeeded")
    undone = (root / "undo").read_text().splitlines()
    assert undone == ["undo c", "undo b feature-b", "undo a"]
    assert (root / "side-undo").read_text().splitlines() == ["undo side", "undo side"]
    shown = {s.key: (s.status, s.attempts) for s in result.compensations}
    assert shown == {
        "compensate:a": ("succeeded", 1),
        "compensate:b": ("succeeded", 1),
        "compensate:c": ("succeeded", 1),
        "compensate:side": ("succeeded", 2),
    }
    assert statuses(result)["boom"] == "failed"


class Project:
    """A directory with a nestr.yaml whose workflows a test writes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_dir = root / "state"
        self.manifest_path = root / "nestr.yaml"

    def write(self, workflows: str, repos: str = "repos: []") -> Path:
        body = textwrap.indent(textwrap.dedent(workflows).strip("\n"), "  ")
        self.manifest_path.write_text(
            f"version: 1\n{textwrap.dedent(repos).strip()}\nworkflows:\n{body}\n",
            encoding="utf-8",
        )
        return self.manifest_path

    def run(
        self,
        name: str,
        *,
        inputs: dict[str, Any] | None = None,
        registry: StepRegistry | None = None,
        options: ExecutorOptions | None = None,
        workspace_root: Path | None = None,
        cancel_when: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> RunResult:
        manifest = load_manifest(self.manifest_path)

        async def go() -> RunResult:
            cancel = asyncio.Event()
            watcher = asyncio.create_task(_watch(cancel_when, cancel)) if cancel_when else None
            try:
                return await run_workflow(
                    name,
                    manifest=manifest,
                    state_dir=self.state_dir,
                    inputs=inputs,
                    registry=registry,
                    options=options,
                    workspace_root=workspace_root,
                    cancel=cancel,
                    **kwargs,
                )
            finally:
                if watcher:
                    watcher.cancel()

        return asyncio.run(go())


async def _watch(condition: Callable[[], bool], cancel: asyncio.Event) -> None:
    # the condition is a file another process writes: there is no event to wait on
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    cancel.set()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    return Project(root)


def statuses(result: RunResult) -> dict[str, str]:
    return {s.key: s.status for s in result.steps}


@pytest.fixture
def status_of() -> Callable[[RunResult], dict[str, str]]:
    return statuses
