"""Every process nestr starts for an action carries that action's correlation id: a workflow
step's and a `foreach` command's (through the library, real processes)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from nestr.events import EventBus
from nestr.manifest.loader import load_manifest
from nestr.observability.context import correlation
from nestr.workflow import run_workflow
from nestr.workspace.foreach import ForeachCommand, foreach

if TYPE_CHECKING:
    from conftest import SmallWorkspace

ECHO = "echo $NESTR_CORRELATION_ID"


def test_a_workflow_step_prints_the_correlation_id(tmp_path: Path) -> None:
    """A shell step run inside ``correlation("abc123")`` prints ``abc123``."""
    manifest_path = tmp_path / "nestr.yaml"
    manifest_path.write_text(
        "version: 1\nrepos: []\nworkflows:\n  wf:\n    steps:\n"
        f"      - {{id: echo, shell: true, run: '{ECHO}'}}\n",
        encoding="utf-8",
    )
    bus, events = EventBus(), []
    bus.add_listener(events.append)
    with correlation("abc123"):
        result = asyncio.run(
            run_workflow(
                "wf", manifest=load_manifest(manifest_path), state_dir=tmp_path / "state", bus=bus
            )
        )
    assert result.ok
    printed = [e.data["text"] for e in events if e.type.endswith(".log") and e.step == "echo"]
    assert "".join(printed) == "abc123\n"


def test_a_foreach_command_prints_the_correlation_id(small_workspace: SmallWorkspace) -> None:
    """A `foreach` command run inside ``correlation("abc123")`` prints ``abc123`` in each repo."""
    bus, events = EventBus(), []
    bus.add_listener(events.append)

    async def go() -> None:
        command = ForeachCommand(("sh", "-c", ECHO))
        sw = small_workspace
        report = await foreach(sw.workspace, sw.repos, command, bus=bus, jobs=2)
        assert report.ok

    with correlation("abc123"):
        asyncio.run(go())
    lines = {(e.repo, e.data["line"]) for e in events if e.type.endswith(".output")}
    assert lines == {("a", "abc123"), ("b", "abc123")}
