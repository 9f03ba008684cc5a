"""A store of runs written through the store's API with fixed ids and times, for snapshots
and the benchmark: what the screens show of it never changes between runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from nestr.events.catalog import RUN_FINISHED, RUN_STARTED, RunFinished, RunStarted
from nestr.store.db import open_database
from nestr.store.records import RunRecord
from nestr.store.runs import NewStep, RunStore

START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
STATUSES = ("succeeded", "failed", "cancelled", "running")


def fill(state_dir: Path, runs: int) -> None:
    """``runs`` runs of a step and a fan-out over two repos, one a minute, the statuses in
    turn (every fourth running)."""
    store = RunStore(open_database(state_dir))
    for n in range(runs):
        run_id, workflow = f"{n:016x}", ("build", "deploy", "test")[n % 3]
        created = START + 60 * n
        record = RunRecord(run_id, workflow, "running", _definition(workflow), {}, {}, created)
        steps = [NewStep("lint", "lint", None)]
        steps += [NewStep(f"test[{repo}]", "test", repo) for repo in ("api", "web")]
        started = RUN_STARTED.event(
            RunStarted(workflow=workflow, inputs={}, steps=3),
            run_id=run_id,
            correlation_id=f"{n:04x}" + "c" * 28,
            traceparent=None,
            time=datetime.fromtimestamp(created, UTC),
        )
        store.create_run(record, steps, started)
        status = STATUSES[n % len(STATUSES)]
        if status != "running":
            finished = created + 5 + n % 7
            done = RUN_FINISHED.event(
                RunFinished(status=status),
                run_id=run_id,
                correlation_id=None,
                traceparent=None,
                time=datetime.fromtimestamp(finished, UTC),
            )
            store.finish_run(run_id, status, finished, done)  # type: ignore[arg-type]
    store.db.close()


def _definition(workflow: str) -> dict[str, object]:
    steps = [{"id": "lint", "uses": "noop"}, {"id": "test", "uses": "noop", "needs": ["lint"]}]
    return {"name": workflow, "steps": steps}
