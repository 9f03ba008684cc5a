"""Runs a dead or drained server left behind, resumed by the next one
(``server.resume_interrupted``).

A run started through the server is owned by the server's process; when that process dies
(a crash, SIGKILL, a reboot) the run is shown ``interrupted``, and so is a run the server
stopped for its shutdown (:mod:`nestr.server.drain`). When ``nestr serve`` starts, it
resumes every interrupted run of its store whose owner was a process of this host — whether a
server or a CLI process started it — as a background task of its own, like ``ResumeRun``:
steps recorded ``succeeded`` are not run again, and the process groups the dead owner's steps
left are ended first. Runs of other hosts are left to their hosts (their pids cannot be
checked from here).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from nestr.errors import NestrError
from nestr.observability.context import correlation, new_correlation_id
from nestr.observability.logging import get_logger

if TYPE_CHECKING:
    from nestr.server.services.workflow import WorkflowService
    from nestr.session import Session
    from nestr.store.records import RunRecord

SCANNED = 1000  # the newest runs looked at: older ones were interrupted long ago
log = get_logger("nestr.server")


def interrupted_runs(session: Session) -> list[RunRecord]:
    """The runs among the newest :data:`SCANNED` of ``session``'s store whose owner was a
    process of this host that died, oldest first."""
    from nestr.workflow.liveness import shown_status

    host = socket.gethostname()
    runs = session.queries.runs(SCANNED)
    return [r for r in reversed(runs) if r.owner_host == host and shown_status(r) == "interrupted"]


async def resume_interrupted(workflows: WorkflowService) -> list[str]:
    """Resume every interrupted run of this host in ``workflows`` (each in a correlation of
    its own) and return their ids. A run that cannot be resumed (another process took it over
    first, its workflow's directory is gone) is logged and left as it is: the server starts
    regardless."""
    resumed = []
    for record in interrupted_runs(workflows.session):
        with correlation(new_correlation_id()):
            try:
                await workflows.launch_resume(record.id)
            except NestrError as error:
                log.warning("interrupted run not resumed", run_id=record.id, error=str(error))
                continue
            log.info("resumed interrupted run", run_id=record.id, workflow=record.workflow)
        resumed.append(record.id)
    return resumed
