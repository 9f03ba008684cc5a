"""Start and resume runs: the library entry points behind ``nestr run`` and ``nestr runs resume``.

A run is recorded before its first step starts — the resolved definition (JSON), the typed
inputs, the repos each foreach step selected, the root and the manifest — and a resume works
from that record, never from the files as they are now.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from nestr.config.settings import Settings
from nestr.errors import UsageError, WorkFailed
from nestr.events.bus import EventBus
from nestr.events.catalog import (
    RUN_RESUMED,
    RUN_RETRIED,
    RUN_STARTED,
    RunResumed,
    RunRetried,
    RunStarted,
)
from nestr.events.envelope import Event
from nestr.manifest.model import Manifest, RepoSpec
from nestr.proc.groups import boot_id, end_groups
from nestr.store.db import Database, open_database
from nestr.store.eventlog import EventLog
from nestr.store.groups import open_groups
from nestr.store.records import RunRecord, RunStatus, StepRecord
from nestr.store.runs import NewStep, RunStore
from nestr.workflow.deadletter import retry_keys
from nestr.workflow.executor import (
    Executor,
    ExecutorFactory,
    ExecutorSetup,
    Refuses,
    RunResult,
    RunSpec,
    executor_factory,
)
from nestr.workflow.inputs import resolve_inputs
from nestr.workflow.liveness import owner_alive, shown_status
from nestr.workflow.loading import load_workflow
from nestr.workflow.model import Workflow
from nestr.workflow.options import ExecutorOptions
from nestr.workflow.plan import build_plan, repo_dict, repo_from, select_repos
from nestr.workflow.registry import StepRegistry, default_registry
from nestr.workflow.saga import is_compensation

Admit = Callable[[RunSpec], None]  # raises for a spec the executor refuses


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


async def run_workflow(
    workflow: Workflow | str,
    *,
    manifest: Manifest,
    state_dir: Path,
    inputs: Mapping[str, Any] | None = None,
    workspace_root: Path | None = None,
    jobs: int | None = None,
    bus: EventBus | None = None,
    registry: StepRegistry | None = None,
    options: ExecutorOptions | None = None,
    cancel: asyncio.Event | None = None,
    run_id: str | None = None,
    db: Database | None = None,
    settings: Settings | None = None,
    executor: str | ExecutorFactory | None = None,
    shutdown: asyncio.Event | None = None,
    started: Callable[[str], None] | None = None,
) -> RunResult:
    """Record and run ``workflow`` (a name in ``manifest``, or a loaded :class:`Workflow`).

    ``inputs`` are strings from ``--var`` or typed values; ``jobs`` caps concurrency (the
    workflow's own ``concurrency`` caps it further); setting ``cancel`` stops the run and
    records it cancelled, setting ``shutdown`` stops it and leaves it to a resume (the
    executor's ``shutdown``; the result's status is ``interrupted``). Events go
    to ``bus`` (default: a bus over the durable log of ``state_dir``). ``db``: the store of
    ``state_dir``, already open, for a process that runs many workflows (a server); it is left
    open. Without it the store is opened for this run and closed after it — closing copies the
    write-ahead log into the database, a few milliseconds a long-lived process pays once.
    ``settings``: the user's, handed to every step (``ctx.settings``); None means the defaults.
    ``executor``: an executor's name or an :class:`ExecutorFactory`; None means the one the
    ``executor`` setting names. ``started(run_id)`` is called once the run is recorded,
    before its first step.
    """
    registry = registry or default_registry()
    if isinstance(workflow, str):
        workflow = load_workflow(manifest, workflow, step_types=registry)
    values = resolve_inputs(workflow, inputs or {})
    selected = _selected_repos(workflow, manifest)
    if selected and workspace_root is None:
        raise UsageError(
            f"workflow {workflow.name!r} runs steps in repos (foreach) and needs a workspace",
            hint="pass -w WORKSPACE, or run it inside an assembled workspace",
        )
    root = (workspace_root or manifest.root).resolve()
    context = {
        "root": str(root),
        "manifest": str(manifest.path),
        "selected": {k: [repo_dict(r) for r in v] for k, v in selected.items()},
    }
    plan = build_plan(workflow, selected)
    record = RunRecord(
        id=run_id or new_run_id(),
        workflow=workflow.name,
        status="running",
        definition=workflow.to_dict(),
        inputs=values,
        context=context,
        created=time.time(),
        owner_pid=os.getpid(),
        owner_host=socket.gethostname(),
    )
    steps = [NewStep(i.key, i.step.id, i.repo.name if i.repo else None) for i in plan.instances]
    chosen = settings or Settings()

    def begin(store: RunStore, bus: EventBus, admit: Admit) -> RunSpec:
        spec = RunSpec(record.id, plan, values, root, state_dir, manifest.path, settings=chosen)
        admit(spec)
        started = RUN_STARTED.event(
            RunStarted(workflow=record.workflow, inputs=values, steps=len(steps)),
            subject=record.workflow,
            run_id=record.id,
        )
        bus.publish(store.create_run(record, steps, started))
        return spec

    wiring = _Wiring(
        state_dir, db, bus, registry, options, jobs, cancel, executor, chosen, shutdown, started
    )
    return await wiring.drive(begin)


async def resume_run(
    run: str,
    *,
    state_dir: Path,
    jobs: int | None = None,
    bus: EventBus | None = None,
    registry: StepRegistry | None = None,
    options: ExecutorOptions | None = None,
    cancel: asyncio.Event | None = None,
    db: Database | None = None,
    settings: Settings | None = None,
    executor: str | ExecutorFactory | None = None,
    shutdown: asyncio.Event | None = None,
    started: Callable[[str], None] | None = None,
) -> RunResult:
    """Continue run ``run`` (id or unique prefix) from its record.

    Instances recorded ``succeeded`` keep their outputs and are not run again; every other
    instance runs again. A run whose owner process is still alive is refused, and so is a run
    another resume took over first (:class:`~nestr.store.runs.RunBusy`, exit code 2). Process
    groups the dead owner's attempts left running are ended before anything runs again.
    ``cancel``, ``shutdown``, ``db``, ``settings``, ``executor`` and ``started`` (once the run
    is claimed) as for
    :func:`run_workflow`.
    """

    def begin(store: RunStore, bus: EventBus, admit: Admit) -> RunSpec:
        record = store.find_run(run)
        _refuse_compensated(record, "resumed")
        workflow = Workflow.from_dict(record.definition)

        def resumed(records: Sequence[StepRecord]) -> Event:
            done = sum(1 for s in records if s.status == "succeeded")
            return RUN_RESUMED.event(
                RunResumed(workflow=workflow.name, done=done, steps=len(records)),
                subject=workflow.name,
                run_id=record.id,
            )

        # a run that was compensating continues its compensations only: its steps ended
        compensating = record.outcome if record.compensation == "running" else None
        keys = None
        if compensating is not None:
            open_ = {"pending", "running"}
            steps = store.steps(record.id)
            keys = [s.key for s in steps if is_compensation(s.key) and s.status in open_]
        reopened = record.status in {"failed", "cancelled"}
        spec = partial(
            _spec, record, keys=keys, state_dir=state_dir, settings=chosen, reopened=reopened
        )
        admit(spec(store.steps(record.id), compensating=compensating))
        claimed = store.claim(record, os.getpid(), time.time(), resumed, owner_alive, keys)
        return _claimed_spec(store, bus, record, claimed, spec, compensating=compensating)

    chosen = settings or Settings()  # read by begin, once called
    wiring = _Wiring(
        state_dir, db, bus, registry, options, jobs, cancel, executor, chosen, shutdown, started
    )
    return await wiring.drive(begin)


async def retry_step(
    run: str,
    step: str,
    *,
    state_dir: Path,
    jobs: int | None = None,
    bus: EventBus | None = None,
    registry: StepRegistry | None = None,
    options: ExecutorOptions | None = None,
    cancel: asyncio.Event | None = None,
    db: Database | None = None,
    settings: Settings | None = None,
    executor: str | ExecutorFactory | None = None,
    started: Callable[[str], None] | None = None,
) -> RunResult:
    """Run again the failed instances of ``step`` (an id or an instance key) in the ended run
    ``run``, and what they held back (``nestr.workflow.deadletter``), as new attempts of the
    same run; the run's other instances stay as they are and its status is decided again.
    Refused (exit 2) for a run that is not failed or cancelled, or that compensated; the
    takeover is guarded as a resume's is. Other arguments as for :func:`resume_run`."""

    def begin(store: RunStore, bus: EventBus, admit: Admit) -> RunSpec:
        record = store.find_run(run)
        _refuse_compensated(record, "retried")
        if record.status not in {"failed", "cancelled"}:
            raise UsageError(
                f"run {record.id} is {shown_status(record)}: only an ended run's failed"
                " steps are retried",
                hint=f"continue an interrupted run with `nestr runs resume {record.id[:8]}`",
            )
        workflow = Workflow.from_dict(record.definition)
        plan = build_plan(workflow, _recorded_selection(record))
        states = {s.key: s.status for s in store.steps(record.id)}
        keys = retry_keys(plan, states, step, record.id)

        def retried(_: Sequence[StepRecord]) -> Event:
            data = RunRetried(workflow=workflow.name, steps=keys)
            return RUN_RETRIED.event(data, subject=workflow.name, run_id=record.id)

        spec = partial(_spec, record, keys=keys, state_dir=state_dir, settings=chosen)
        admit(spec(store.steps(record.id), retried=tuple(keys)))
        claimed = store.claim(record, os.getpid(), time.time(), retried, owner_alive, keys)
        return _claimed_spec(store, bus, record, claimed, spec, retried=tuple(keys))

    chosen = settings or Settings()
    wiring = _Wiring(
        state_dir, db, bus, registry, options, jobs, cancel, executor, chosen, None, started
    )
    return await wiring.drive(begin)


def _refuse_compensated(record: RunRecord, doing: str) -> None:
    """A run whose compensations ran was undone: it is never resumed or retried."""
    if record.compensation in {"succeeded", "failed", "cancelled"}:
        raise UsageError(
            f"run {record.id} cannot be {doing}: it was compensated (its succeeded steps were"
            " undone)",
            hint="start a new run",
        )


def _recorded_selection(record: RunRecord) -> dict[str, list[RepoSpec]]:
    """The repos each foreach step of ``record`` selected when it started."""
    raw = record.context.get("selected", {})
    return {k: [repo_from(r) for r in v] for k, v in raw.items()}


def _claimed_spec(
    store: RunStore,
    bus: EventBus,
    record: RunRecord,
    claimed: tuple[Event, int, list[StepRecord]],
    spec: Callable[..., RunSpec],
    **extra: Any,
) -> RunSpec:
    """The spec of a run taken over by a resume or a retry (``spec``: :func:`_spec` bound to
    the run), from the records as the takeover left them."""
    event, claim, records = claimed
    bus.publish(event)
    end_left_groups(store.db, record)
    return spec(records, claim=claim, **extra)


def recorded_spec(record: RunRecord, records: Sequence[StepRecord], state_dir: Path) -> RunSpec:
    """The spec of run ``record`` as recorded, its steps ``records``: what an engine that
    runs it elsewhere projects into the store when no process follows the run any more."""
    return _spec(record, records, keys=None, state_dir=state_dir, settings=Settings())


def _spec(
    record: RunRecord,
    records: Sequence[StepRecord],
    *,
    keys: Sequence[str] | None,
    state_dir: Path,
    settings: Settings,
    compensating: RunStatus | None = None,
    retried: tuple[str, ...] = (),
    claim: int = 0,
    reopened: bool = False,
) -> RunSpec:
    """The spec of a resume or a retry of ``record``: what succeeded is done, what is run
    again is ``keys`` (None: everything else), the rest stays as it ended. Built once from
    the records before the takeover (for the executor to refuse it), then from after."""
    again = None if keys is None else set(keys)
    manifest = record.context.get("manifest")
    return RunSpec(
        record.id,
        build_plan(Workflow.from_dict(record.definition), _recorded_selection(record)),
        record.inputs,
        Path(record.context["root"]),
        state_dir,
        Path(manifest) if manifest else None,
        done={s.key: s for s in records if s.status == "succeeded"},
        prior_attempts={s.key: s.attempts for s in records},  # new ones are numbered after
        ended={
            s.key: s.status
            for s in records
            if again is not None and s.status != "succeeded" and s.key not in again
        },
        compensating=compensating,
        retried=retried,
        reopened=reopened,
        claim=claim,
        settings=settings,
    )


@dataclass(frozen=True)
class _Wiring:
    """What run, resume and retry share: the store (opened here unless given), the bus, and
    the executor built for the run (``executor``, else the one ``settings`` names, with the
    steps of ``registry``, else the default registry)."""

    state_dir: Path
    db: Database | None
    bus: EventBus | None
    registry: StepRegistry | None
    options: ExecutorOptions | None
    jobs: int | None
    cancel: asyncio.Event | None
    executor: str | ExecutorFactory | None
    settings: Settings
    shutdown: asyncio.Event | None = None
    started: Callable[[str], None] | None = None

    async def drive(self, begin: Callable[[RunStore, EventBus, Admit], RunSpec]) -> RunResult:
        """Open the store, build the executor, record the run's start with ``begin`` (which
        lets the executor refuse the run before it writes), and execute it."""
        registry = self.registry or default_registry()  # before the run is recorded or claimed
        db = self.db or open_database(self.state_dir)
        try:
            store = RunStore(db)
            bus = self.bus or EventBus(sink=EventLog(db))
            options = self.options or ExecutorOptions()
            if self.jobs is not None:
                options = replace(options, concurrency=self.jobs)
            factory = self.executor or self.settings.executor
            if isinstance(factory, str):
                factory = executor_factory(factory)
            setup = ExecutorSetup(store, bus, registry, options, self.cancel, self.shutdown)
            executor = factory(setup)
            spec = begin(store, bus, _admit(executor))
            if self.started is not None:
                self.started(spec.run_id)
            return await executor.execute(spec)
        finally:
            if self.db is None:
                db.close()


def _admit(executor: Executor) -> Admit:
    """The check ``begin`` passes its spec to before writing: the executor's refusal."""
    if isinstance(executor, Refuses):
        return executor.refuse
    return lambda spec: None


def end_left_groups(db: Database, record: RunRecord) -> None:
    """End the process groups that attempts of ``record`` left running when its owner died
    (SIGTERM, then SIGKILL), and wait until they are gone; an error if one cannot be ended.

    Only groups of this host and this boot can be seen; a run owned on another host is left to
    that host.
    """
    if record.owner_host not in {None, socket.gethostname()}:
        return
    left = open_groups(db, record.id, boot_id())
    if not left:
        return
    alive = set(end_groups([(pgid, start) for _, pgid, start in left]))
    stuck = sorted({key for key, pgid, _ in left if pgid in alive})
    if stuck:
        raise WorkFailed(
            f"processes of an earlier attempt of {', '.join(stuck)} in run {record.id}"
            " did not end after SIGKILL",
            hint="see `ps -eo pid,pgid,stat,args`; resume once they are gone",
        )


def _selected_repos(workflow: Workflow, manifest: Manifest) -> dict[str, list[RepoSpec]]:
    return {
        step.id: select_repos(step.foreach, manifest, step)
        for step in workflow.steps
        if step.foreach is not None
    }


def run_workflow_sync(workflow: Workflow | str, **kwargs: Any) -> RunResult:
    """:func:`run_workflow` for code that is not async."""
    return asyncio.run(run_workflow(workflow, **kwargs))
