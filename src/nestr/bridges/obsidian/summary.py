"""A run's :class:`~nestr.bridges.obsidian.runnotes.RunSummary`, read from the run store."""

from __future__ import annotations

from nestr.bridges.obsidian.runnotes import RunSummary, StepSummary
from nestr.workflow.queries import RunQueries

TAIL_LINES = 20  # lines of a failed step's output its note shows


def run_summary(queries: RunQueries, run: str, *, correlation_id: str | None = None) -> RunSummary:
    """The summary of run ``run`` (an id or a unique prefix) as recorded now."""
    detail = queries.detail(run)
    record = detail.run
    failed = {s.key for s in detail.steps if s.status == "failed"}
    tails = _tails(queries, record.id, failed)
    workflow = queries.workflow(record)
    return RunSummary(
        run_id=record.id,
        workflow=record.workflow,
        status=record.status,
        started=record.created,
        seconds=None if record.finished is None else record.finished - record.created,
        steps=tuple(
            StepSummary(
                key=s.key,
                step_id=s.step_id,
                status=s.status,
                repo=s.repo,
                seconds=s.duration,
                error=s.error,
                log_tail=tails.get(s.key, ""),
            )
            for s in detail.steps
        ),
        needs={step.id: tuple(step.needs) for step in workflow.steps},
        correlation_id=correlation_id,
    )


def _tails(queries: RunQueries, run_id: str, keys: set[str]) -> dict[str, str]:
    if not keys:
        return {}
    texts: dict[str, str] = {}
    latest: dict[str, int] = {}
    records = queries.logs(run_id, keys)
    for record in records:
        latest[record.key] = max(latest.get(record.key, 0), record.attempt)
    for record in records:
        if record.attempt == latest[record.key]:
            texts[record.key] = texts.get(record.key, "") + record.text
    return {k: "\n".join(t.rstrip("\n").splitlines()[-TAIL_LINES:]) for k, t in texts.items()}
