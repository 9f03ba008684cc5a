"""Durability on Temporal: a worker killed mid-run, a restarted server, steps on the host
that holds their checkout, and histories that replay."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Replayer
from tests.temporal.conftest import Cluster
from tests.workflow.conftest import Project, statuses

from nestr.store import open_database
from nestr.store.eventlog import open_event_log
from nestr.store.runs import RunStore
from nestr.temporal.devserver import DevServer
from nestr.temporal.executor import retry_workflow_id, workflow_id
from nestr.temporal.interpreter import NestrRun
from nestr.temporal.worker import sandbox_runner
from nestr.workflow import RunResult


class Background:
    """A run in a thread, so the test can act on the cluster while it goes."""

    def __init__(self, go: Callable[[], RunResult]) -> None:
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(go,))
        self._thread.start()

    def _run(self, go: Callable[[], RunResult]) -> None:
        try:
            self.result = go()
        except BaseException as exc:  # handed to the test by join()
            self.error = exc

    def join(self, timeout: float = 240) -> RunResult:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the run did not end"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def wait_for(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def chain(project: Project, markers: Path, count: int, pause: float) -> None:
    """A workflow of ``count`` steps one after the other; each appends a line to its own
    marker file, so a step that ran twice has two lines."""
    markers.mkdir()
    steps = "\n".join(
        f"    - {{id: s{i:02d}, shell: true, "
        f'run: "echo ran >> {markers}/s{i:02d}; sleep {pause}"'
        + (f", needs: [s{i - 1:02d}]}}" if i else "}")
        for i in range(count)
    )
    project.write(f"wf:\n  steps:\n{steps}")


def succeeded_now(project: Project, run_id: str) -> set[str]:
    """The steps the submitter's store records succeeded at this moment."""
    db = open_database(project.state_dir)
    try:
        return {s.key for s in RunStore(db).steps(run_id) if s.status == "succeeded"}
    finally:
        db.close()


def test_a_killed_worker_s_run_completes_on_another(
    cluster: Cluster, project: Project, tmp_path: Path
) -> None:
    """SIGKILL of the only worker during a 50-step run, then a new worker: the run
    completes, and no step recorded completed before the kill runs a second time."""
    markers = tmp_path / "markers"
    chain(project, markers, 50, 0.05)
    settings = cluster.settings(project.state_dir)
    run = Background(lambda: project.run("wf", settings=settings, run_id="crash"))
    wait_for(lambda: len(succeeded_now(project, "crash")) >= 5)
    cluster.workers[0].kill()
    done_before = succeeded_now(project, "crash")
    assert len(done_before) < 50  # killed mid-run
    cluster.worker()
    result = run.join()
    assert result.ok, result.to_dict()
    for key in done_before:
        assert (markers / key).read_text() == "ran\n", key
    twice = [p.name for p in markers.iterdir() if p.read_text() != "ran\n"]
    assert len(twice) <= 1  # at most the step that was running when its worker died


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[DevServer]:
    """A dev server of this test alone (it restarts it)."""
    server = DevServer(tmp_path / "own.db")
    with server:
        yield server


def test_a_run_survives_a_server_restart(
    own_server: DevServer, project: Project, tmp_path: Path
) -> None:
    """The dev server stopped mid-run and started again on its database file: the run
    completes, every step once."""
    cluster = Cluster(own_server, tmp_path / "cluster")
    cluster.worker()
    try:
        markers = tmp_path / "markers"
        chain(project, markers, 12, 0.1)
        settings = cluster.settings(project.state_dir)
        run = Background(lambda: project.run("wf", settings=settings))
        wait_for(lambda: len(list(markers.iterdir())) >= 4)
        own_server.stop()
        own_server.start()
        result = run.join()
    finally:
        for worker in cluster.workers:
            worker.stop()
    assert result.ok, result.to_dict()
    assert len(list(markers.iterdir())) == 12


def ran_by(state_dir: Path) -> set[tuple[str, str]]:
    """``(run id, step key)`` of the steps a worker's own event log saw finish."""
    log = open_event_log(state_dir)
    try:
        events = log.read(type_prefix="nestr.workflow.step.finished")
    finally:
        log.close()
    return {(e.run_id or "", e.step or "") for e in events}


def test_checkout_steps_run_on_the_host_that_holds_them(
    cluster: Cluster, project: Project, tmp_path: Path
) -> None:
    """Two workers with host queues, each holding one workspace: every step that touches a
    checkout of a workspace runs on the worker that holds it."""
    project.write(
        """
        wf:
          steps:
            - {id: build, foreach: {groups: [all]}, run: "true"}
            - {id: report, needs: [build], run: "true"}
        """,
        repos="""
        repos:
          - {name: api, url: file:///nowhere/api, groups: [all]}
          - {name: web, url: file:///nowhere/web, groups: [all]}
        """,
    )
    hosts = {}
    for name in ("a", "b"):
        workspace = tmp_path / f"host-{name}" / "ws"
        for repo in ("api", "web"):
            (workspace / repo).mkdir(parents=True)
        worker = cluster.worker(
            "--host-queue", "--host-name", name, "-w", str(workspace), name=name
        )
        hosts[name] = (workspace, worker.state_dir)
    settings = cluster.settings(project.state_dir)
    for name, (workspace, _) in hosts.items():
        result = project.run("wf", settings=settings, workspace_root=workspace, run_id=name)
        assert result.ok, result.to_dict()
    for name, (_, state_dir) in hosts.items():
        other = "b" if name == "a" else "a"
        seen = ran_by(state_dir)
        assert {(name, "build[api]"), (name, "build[web]")} <= seen
        assert not {(other, "build[api]"), (other, "build[web]")} & seen


def test_two_runs_of_one_plan_keep_their_own_ids_on_a_worker(
    cluster: Cluster, project: Project
) -> None:
    """Two runs of the same definition on one worker: the worker's step events name each
    run, not the first one whose plan it fetched."""
    project.write(
        """
        wf:
          steps:
            - {id: one, run: "true"}
        """
    )
    settings = cluster.settings(project.state_dir)
    for run_id in ("first", "second"):
        assert project.run("wf", settings=settings, run_id=run_id).ok
    assert {("first", "one"), ("second", "one")} <= ran_by(cluster.workers[0].state_dir)


def test_recorded_histories_replay_without_nondeterminism(
    cluster: Cluster, project: Project, tmp_path: Path
) -> None:
    """The histories of runs that succeeded, retried, failed fast, skipped, were cancelled,
    compensated (a compensation retried), passed an output too large for history by
    reference, were re-driven from the dead-letter list (``runs retry``) and resumed
    mid-compensation replay through the workflow code without a non-determinism error."""
    from tests.temporal.test_temporal_saga import _stopped_mid_compensation

    from nestr.workflow.runs import resume_run, retry_step

    allow = tmp_path / "allow"
    halfway = tmp_path / "halfway"
    began = tmp_path / "began"
    counter = tmp_path / "tries"
    undone = tmp_path / "undone"
    project.write(
        f"""
        ok:
          steps:
            - id: make
              shell: true
              run: echo "v=1" >> "$NESTR_OUTPUT"
            - id: use
              needs: [make]
              run: test "${{{{ steps.make.outputs.v }}}}" = 1
            - {{id: never, needs: [make], if: "steps.make.outputs.v == '0'", run: "false"}}
            - id: flaky
              shell: true
              retry: {{attempts: 2, initial: 0.01, jitter: false}}
              run: echo x >> {counter}; test "$(wc -l < {counter})" -ge 2
        failing:
          fail_fast: true
          steps:
            - {{id: bad, run: "false"}}
            - {{id: long, run: sleep 20}}
            - {{id: after, needs: [bad], run: "true"}}
        cancelled:
          steps:
            - {{id: long, shell: true, run: "touch {began}; sleep 20"}}
        compensated:
          steps:
            - id: first
              run: "true"
              compensate: {{shell: true, run: echo first >> {undone}}}
            - id: second
              needs: [first]
              retry: {{attempts: 2, initial: 0.01, jitter: false}}
              run: "true"
              compensate:
                shell: true
                run: echo second >> {undone}; test "$(wc -l < {undone})" -ge 2
            - {{id: bad, needs: [second], run: "false"}}
        large:
          steps:
            - id: make
              shell: true
              run: python3 -c "print('big=' + 'z' * 70000)" >> "$NESTR_OUTPUT"
            - id: use
              needs: [make]
              run: test "${{{{ steps.make.outputs.big | length }}}}" = 70000
        retried:
          steps:
            - {{id: first, run: "true"}}
            - {{id: gate, needs: [first], run: test -e {allow}}}
            - {{id: after, needs: [gate], run: "true"}}
            - {{id: other, run: "false"}}
        wf:
          steps:
            - id: a
              run: "true"
              compensate:
                shell: true
                run: echo a >> {halfway}; test "$(wc -l < {halfway})" -ge 2 || sleep 60
            - {{id: boom, needs: [a], run: "false"}}
        """
    )
    settings = cluster.settings(project.state_dir)
    runs = [
        project.run("ok", settings=settings, run_id="r-ok"),
        project.run("failing", settings=settings, run_id="r-failing", jobs=2),
        project.run("cancelled", settings=settings, run_id="r-cancel", cancel_when=began.exists),
        project.run("compensated", settings=settings, run_id="r-compensated"),
        project.run("large", settings=settings, run_id="r-large"),
        project.run("retried", settings=settings, run_id="r-retried"),
    ]
    allow.touch()
    again = retry_step("r-retried", "gate", state_dir=project.state_dir, settings=settings)
    assert asyncio.run(again).status == "failed"  # ``other`` still failed
    statuses_of_runs = [r.status for r in runs]
    assert statuses_of_runs == ["succeeded", "failed", "cancelled", "failed", "succeeded", "failed"]
    assert runs[3].compensation == "succeeded"
    assert undone.read_text().splitlines() == ["second", "second", "first"]
    assert statuses(runs[0])["never"] == "skipped"
    stopped = asyncio.run(_stopped_mid_compensation(project, halfway))  # locally
    resumed = resume_run(stopped, state_dir=project.state_dir, settings=settings)
    assert asyncio.run(resumed).compensation == "succeeded"

    async def replay() -> int:
        client = await Client.connect(cluster.server.address)
        ids = [workflow_id(r.run_id) for r in runs] + [retry_workflow_id("r-retried", 1)]
        ids.append(workflow_id(stopped))
        histories = [await client.get_workflow_handle(i).fetch_history() for i in ids]
        replayer = Replayer(workflows=[NestrRun], workflow_runner=sandbox_runner())
        for history in histories:
            await replayer.replay_workflow(history)
        return len(histories)

    assert asyncio.run(replay()) == 8


class Collected(logging.Handler):
    """Keeps the messages of the warnings it is handed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.said: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.said.append(record.getMessage())


def _names_in_flight(message: str, run_id: str) -> bool:
    """Whether the changed-definition warning ``message`` names ``run_id`` among the runs in
    flight (runs of other tests on the same server may be named too)."""
    if "in flight (" not in message:
        return False
    names = message.split("in flight (", 1)[1].split(")", 1)[0]
    return run_id in names.split(", ")


def test_a_changed_definition_leaves_the_run_in_flight_on_its_plan(
    own_server: DevServer, project: Project, tmp_path: Path
) -> None:
    """A workflow edited while a run of it is in flight: the next run's submission says so,
    and the run in flight finishes with the steps of the definition it started with (on a
    server of its own: the warning lists every run in flight of that workflow)."""
    cluster = Cluster(own_server, tmp_path / "cluster")
    cluster.worker()
    try:
        _changed_definition(cluster, project, tmp_path)
    finally:
        for worker in cluster.workers:
            worker.stop()


def _changed_definition(cluster: Cluster, project: Project, tmp_path: Path) -> None:
    gate, began, said = tmp_path / "gate", tmp_path / "began", tmp_path / "said"

    def definition(word: str) -> str:
        return f"""
        wf:
          steps:
            - id: wait
              shell: true
              run: "touch {began}; while [ ! -e {gate} ]; do sleep 0.05; done"
            - {{id: say, needs: [wait], shell: true, run: "echo {word} >> {said}"}}
        """

    project.write(definition("old"))
    settings = cluster.settings(project.state_dir)
    first = Background(lambda: project.run("wf", settings=settings, run_id="first"))
    wait_for(began.exists)
    project.write(definition("new").replace("touch", "true"))
    handler = Collected()  # on the executor's logger: the CLI's logging set-up in other
    logger = logging.getLogger("nestr.temporal.executor")  # tests may stop propagation
    logger.addHandler(handler)
    try:
        second = Background(lambda: project.run("wf", settings=settings, run_id="second"))
        wait_for(lambda: any(_names_in_flight(text, "first") for text in handler.said))
        gate.touch()
        assert first.join().ok
        assert second.join().ok
    finally:
        logger.removeHandler(handler)
    assert sorted(said.read_text().split()) == ["new", "old"]


def test_a_stopped_submitter_leaves_the_run_going_and_a_resume_attaches(
    cluster: Cluster, project: Project, tmp_path: Path
) -> None:
    """The submitter stops mid-run (a shutdown): the run is left ``interrupted`` but goes on
    in Temporal to its end; a resume attaches to that same (closed) workflow, records its
    end, and no step ran twice."""
    from nestr.workflow import resume_run

    markers = tmp_path / "markers"
    chain(project, markers, 8, 0.2)
    settings = cluster.settings(project.state_dir)

    async def stop_when_started() -> RunResult:
        from nestr.manifest.loader import load_manifest
        from nestr.workflow import run_workflow

        shutdown = asyncio.Event()

        async def trigger() -> None:
            while len(list(markers.iterdir())) < 2:  # noqa: ASYNC110 - files a worker writes
                await asyncio.sleep(0.02)
            shutdown.set()

        watcher = asyncio.create_task(trigger())
        try:
            return await run_workflow(
                "wf",
                manifest=load_manifest(project.manifest_path),
                state_dir=project.state_dir,
                settings=settings,
                shutdown=shutdown,
                run_id="left",
            )
        finally:
            watcher.cancel()

    first = asyncio.run(stop_when_started())
    assert first.status == "interrupted"

    async def ended_on_temporal() -> None:
        client = await Client.connect(cluster.server.address)
        await client.get_workflow_handle(workflow_id("left")).result()

    asyncio.run(ended_on_temporal())  # the run went on to its end without its submitter
    resumed = asyncio.run(
        resume_run("left", state_dir=project.state_dir, settings=settings, executor="temporal")
    )
    assert resumed.ok, resumed.to_dict()
    assert sorted(p.name for p in markers.iterdir()) == [f"s{i:02d}" for i in range(8)]
    assert all(p.read_text() == "ran\n" for p in markers.iterdir())
