"""The engine's per-step work stays small: validation and readiness are linear in the DAG, a
noop costs one commit, and a child process is watched without a thread of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from nestr.events import Event
from nestr.manifest.loader import load_manifest
from nestr.store import RunStore, open_database
from nestr.store.eventlog import open_event_bus
from nestr.workflow import RunResult, graph, resume_run, run_workflow
from nestr.workflow.graph import Ancestry, find_cycle
from nestr.workflow.loading import load_workflow
from nestr.workflow.schedule import Node, Schedule, Start
from nestr.workflow.validate import check_workflow

CHAIN = 2000


def _chain(steps: int, *, last_reads_first: bool) -> str:
    lines = ["wf:", "  steps:", "    - {id: s0, uses: noop}"]
    for i in range(1, steps):
        source = "s0" if last_reads_first and i == steps - 1 else f"s{i - 1}"
        run = f"echo ${{{{ steps.{source}.status }}}}"
        lines.append(f'    - {{id: s{i}, needs: [s{i - 1}], run: "{run}"}}')
    return "\n".join(lines)


@pytest.mark.parametrize("last_reads_first", [False, True])
def test_validating_a_long_chain_visits_each_step_a_bounded_number_of_times(
    project: Any, last_reads_first: bool
) -> None:
    """A 2,000-step chain whose steps read their upstream steps validates with at most one
    ancestor walk (each step visited once), not one walk per step."""
    project.write(_chain(CHAIN, last_reads_first=last_reads_first))
    workflow = load_workflow(load_manifest(project.manifest_path), "wf")
    assert len(workflow.steps) == CHAIN
    made: list[Ancestry] = []

    def counting(edges: graph.Edges) -> Ancestry:
        made.append(Ancestry(edges))
        return made[-1]

    assert check_workflow(workflow, lambda _path: None, {"noop"}, ancestry=counting) == []
    assert len(made) == 1
    assert made[0].visits <= CHAIN
    assert (made[0].visits > 0) is last_reads_first


def test_reading_a_step_that_is_not_upstream_is_still_an_error(project: Any) -> None:
    """The lazy ancestry still refuses a reference to a step that is not upstream."""
    project.write(
        """
        wf:
          steps:
            - {id: a, uses: noop}
            - {id: b, uses: noop}
            - {id: c, needs: [a], run: "echo ${{ steps.b.status }}"}
        """
    )
    with pytest.raises(Exception, match="step 'b' is not upstream of 'c'"):
        load_workflow(load_manifest(project.manifest_path), "wf")


def test_ancestors_of_a_dense_layered_graph_visit_each_node_once() -> None:
    """Every node of a layered DAG needing all of the previous layer is visited once, although
    it is reachable along thousands of paths."""
    width, layers = 10, 50
    edges: dict[str, list[str]] = {}
    for layer in range(layers):
        below = [f"n{layer - 1}_{j}" for j in range(width)] if layer else []
        edges.update({f"n{layer}_{j}": below for j in range(width)})
    ancestry = Ancestry(edges)
    assert len(ancestry.of(f"n{layers - 1}_0")) == width * (layers - 1)
    assert ancestry.visits == width * (layers - 1)


def test_cycle_search_does_not_recurse_per_step() -> None:
    """A 5,000-step chain listed against its order is searched without hitting Python's
    recursion limit, with and without a cycle."""
    edges = {f"s{i}": [f"s{i + 1}"] if i < 4999 else [] for i in range(5000)}
    assert find_cycle(edges) is None
    edges["s4999"] = ["s0"]
    cycle = find_cycle(edges)
    assert cycle is not None
    assert (cycle[0], cycle[-1], len(cycle)) == ("s0", "s0", 5001)


def test_each_instance_is_checked_for_readiness_once() -> None:
    """In a layered DAG where every step needs the whole previous layer, the scheduler looks
    at an instance's needs once — when the last of them is over — not after each one."""
    width, layers = 10, 8
    nodes = [
        Node(f"l{layer}_{j}", tuple(f"l{layer - 1}_{k}" for k in range(width)) if layer else ())
        for layer in range(layers)
        for j in range(width)
    ]
    schedule = Schedule(nodes, limit=width)
    started = 0
    while not schedule.over:
        for action in schedule.advance():
            assert isinstance(action, Start)
            started += 1
            schedule.finished(action.key, "succeeded")
    assert started == width * layers
    assert schedule.examined == width * layers
    assert schedule.final_status() == "succeeded"


def test_a_noop_step_is_committed_once_and_a_process_step_shows_running(
    project: Any,
) -> None:
    """A noop's start and end are one commit (when its started event is out, the store already
    has it succeeded); a process step is recorded running before its process runs."""
    project.write(
        """
        wf:
          steps:
            - {id: quick, uses: noop}
            - {id: proc, needs: [quick], run: "true"}
        """
    )
    seen: dict[str, str] = {}
    bus = open_event_bus(project.state_dir)

    def watch(event: Event) -> None:
        if event.type == "nestr.workflow.step.started" and event.run_id and event.step:
            with open_database(project.state_dir) as db:
                steps = {s.key: s.status for s in RunStore(db).steps(event.run_id)}
            seen[event.step] = steps[event.step]

    bus.add_listener(watch)
    assert project.run("wf", bus=bus).ok
    assert seen == {"quick": "succeeded", "proc": "running"}


def test_a_child_process_is_watched_without_a_thread(project: Any, tmp_path: Path) -> None:
    """While a step's process runs, nestr has started no thread for it (no waitpid thread per
    child, as asyncio's default watcher on Python 3.11 would)."""
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    project.write(
        f"""
        wf:
          steps:
            - {{id: hold, shell: true, run: "echo ready; read line < {fifo}"}}
        """
    )
    before = {t.ident for t in threading.enumerate()}
    during: list[set[int | None]] = []
    bus = open_event_bus(project.state_dir)

    def release(event: Event) -> None:
        if event.type == "nestr.workflow.step.log" and "ready" in event.data["text"]:
            during.append({t.ident for t in threading.enumerate()} - before)
            with fifo.open("w") as pipe:  # the step is blocked reading it: let it end
                pipe.write("done\n")

    bus.add_listener(release)
    assert project.run("wf", bus=bus).ok
    assert during == [set()]


def test_noop_steps_resume_after_a_crash(project: Any) -> None:
    """After ``nestr run`` is SIGKILLed by one of its steps, a resume keeps the noop recorded
    before the kill, and runs the never-recorded noop after it; every step ends succeeded."""
    project.write(
        """
        wf:
          steps:
            - {id: first, uses: noop, with: {outputs: {k: v}}}
            - id: killer
              needs: [first]
              shell: true
              run: "test -e killed || { touch killed; kill -9 $PPID; }"
            - {id: after, needs: [killer], uses: noop}
        """
    )
    env = {**os.environ, "NESTR_STATE_DIR": str(project.state_dir)}
    command = [sys.executable, "-m", "nestr", "run", "wf", "-m", str(project.manifest_path)]
    done = subprocess.run(command, cwd=project.root, env=env, capture_output=True, check=False)
    code = done.returncode
    assert code == -signal.SIGKILL
    with open_database(project.state_dir) as db:
        (record,) = RunStore(db).runs()
        before = {s.key: (s.status, s.attempts) for s in RunStore(db).steps(record.id)}
    assert before == {"first": ("succeeded", 1), "killer": ("running", 1), "after": ("pending", 0)}
    result = asyncio.run(resume_run(record.id, state_dir=project.state_dir))
    assert result.ok
    after = {s.key: (s.status, s.attempts, dict(s.outputs)) for s in result.steps}
    assert after == {
        "first": ("succeeded", 1, {"k": "v"}),
        "killer": ("succeeded", 2, {}),
        "after": ("succeeded", 1, {}),
    }


def test_a_layer_of_noops_starts_no_task_per_step(project: Any) -> None:
    """A layer of twenty noops runs without a task per instance (the local executor runs a
    noop's try inside its own turn), while a process step gets its task."""
    steps = "\n".join(f"    - {{id: n{i}, uses: noop}}" for i in range(20))
    project.write("wf:\n  steps:\n" + steps + '\n    - {id: p, needs: [n0], run: "true"}')
    manifest = load_manifest(project.manifest_path)
    made: list[asyncio.Task[Any]] = []

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        made.append(task)
        return task

    async def go() -> RunResult:
        asyncio.get_running_loop().set_task_factory(counting)
        return await run_workflow("wf", manifest=manifest, state_dir=project.state_dir)

    result = asyncio.run(go())
    assert result.ok
    instances = {s.key for s in result.steps}
    assert [task.get_name() for task in made if task.get_name() in instances] == ["p"]


def test_a_noop_with_retries_runs_as_a_task_and_keeps_its_outputs(project: Any) -> None:
    """A noop with a retry policy is not run inline; it still succeeds once with its outputs,
    which reach its dependent."""
    project.write(
        """
        wf:
          steps:
            - {id: a, uses: noop, retry: {attempts: 3}, with: {outputs: {k: v}}}
            - id: b
              needs: [a]
              uses: noop
              with: {outputs: {got: "${{ steps.a.outputs.k }}"}}
        """
    )
    result = project.run("wf")
    assert {s.key: (s.attempts, dict(s.outputs)) for s in result.steps} == {
        "a": (1, {"k": "v"}),
        "b": (1, {"got": "v"}),
    }
