"""Payloads stay small on Temporal: large outputs stay in the worker's store with a reference
in history, errors travel cut, and logs are read where the worker keeps them."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import Iterator

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from tests.temporal.conftest import Cluster
from tests.workflow.conftest import Project

from nestr.store.eventlog import open_event_log
from nestr.temporal.executor import workflow_id
from nestr.temporal.payloads import ERROR_LIMIT

BOUND = 65536  # temporal.inline_outputs' default
BIG = 1024 * 1024


def history(cluster: Cluster, run_id: str) -> WorkflowHistory:
    """The Temporal history of nestr run ``run_id``."""

    async def fetch() -> WorkflowHistory:
        client = await Client.connect(cluster.server.address)
        return await client.get_workflow_handle(workflow_id(run_id)).fetch_history()

    return asyncio.run(fetch())


def payload_sizes(message: Message) -> Iterator[int]:
    """The size of every payload anywhere in ``message`` (a history event, recursively)."""
    if isinstance(message, Payload):
        yield len(message.data)
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is not None:
                for item in value.values():
                    yield from payload_sizes(item)
        elif field.is_repeated:
            for item in value:
                yield from payload_sizes(item)
        else:
            yield from payload_sizes(value)


def failure_messages(found: WorkflowHistory) -> list[str]:
    """The messages of the activity failures in a history."""
    return [
        event.activity_task_failed_event_attributes.failure.message
        for event in found.events
        if event.HasField("activity_task_failed_event_attributes")
    ]


def test_a_large_output_stays_out_of_history_and_the_next_step_reads_it(
    cluster: Cluster, project: Project
) -> None:
    """A step writing a 1 MB output succeeds on Temporal, no payload of the run's history is
    larger than ``temporal.inline_outputs``, the next step reads the whole value, and the
    submitter records it."""
    project.write(
        f"""
        wf:
          steps:
            - id: make
              shell: true
              run: >-
                python3 -c "print('big=' + 'x' * {BIG - 3} + 'end'); print('small=1')"
                >> "$NESTR_OUTPUT"
            - id: use
              needs: [make]
              run: >-
                test "${{{{ steps.make.outputs.big | length }}}}-${{{{ steps.make.outputs.big[-3:]
                }}}}-${{{{ steps.make.outputs.small }}}}" = {BIG}-end-1
        """
    )
    result = project.run("wf", settings=cluster.settings(project.state_dir), run_id="large")
    assert result.ok, result.to_dict()
    make = next(s for s in result.steps if s.key == "make")
    assert make.outputs == {"big": "x" * (BIG - 3) + "end", "small": "1"}
    sizes = [size for event in history(cluster, "large").events for size in payload_sizes(event)]
    assert sizes  # the history was walked
    assert max(sizes) <= BOUND


def test_a_stored_output_that_cannot_be_read_fails_the_reading_step_clearly(
    cluster: Cluster, project: Project
) -> None:
    """A step reading a stored output that its worker cannot read (the file is gone, as on
    another host) fails with an error naming the output, the host that holds it and the
    setting to raise."""
    outputs = cluster.workers[0].state_dir / "runs" / "lost" / "outputs"
    project.write(
        f"""
        wf:
          steps:
            - id: make
              shell: true
              run: python3 -c "print('big=' + 'y' * {BOUND})" >> "$NESTR_OUTPUT"
            - {{id: lose, needs: [make], run: rm -r {outputs}}}
            - id: use
              needs: [lose]
              run: test -n "${{{{ steps.make.outputs.big }}}}"
        """
    )
    result = project.run("wf", settings=cluster.settings(project.state_dir), run_id="lost")
    use = next(s for s in result.steps if s.key == "use")
    assert use.status == "failed"
    error = use.error or ""
    assert "output 'big' of step make" in error
    assert f"on host {socket.gethostname()}" in error
    assert "temporal.inline_outputs" in error


def test_a_long_error_is_cut_in_history_and_whole_in_the_worker_s_log(
    cluster: Cluster, project: Project
) -> None:
    """A step whose error is longer than the bound fails with the error cut and marked in
    history and in the submitter's record, and whole in the worker's event log."""
    program = "/nonexistent/" + "/".join(f"{i:02d}" + "d" * 200 for i in range(15))
    project.write(
        f"""
        wf:
          steps:
            - {{id: bad, run: {program}}}
        """
    )
    result = project.run("wf", settings=cluster.settings(project.state_dir), run_id="long")
    assert result.status == "failed"
    recorded = result.steps[0].error or ""
    assert "more characters cut: the whole error is in the event log of the worker" in recorded
    messages = failure_messages(history(cluster, "long"))
    assert messages
    assert all(len(m) < ERROR_LIMIT + 300 for m in messages)
    assert messages[-1] == recorded
    log = open_event_log(cluster.workers[0].state_dir)
    try:
        ends = log.read(type_prefix="nestr.workflow.step.finished", run_id="long")
    finally:
        log.close()
    whole = ends[-1].data["error"]
    assert len(whole) > ERROR_LIMIT + 300
    assert program in whole
    assert whole.startswith(recorded[:ERROR_LIMIT])


def test_runs_logs_reads_the_worker_s_store_or_says_where_it_is(
    nestr, cluster: Cluster, project: Project
) -> None:
    """``runs logs`` of a step a worker ran prints the log from the worker's store on this
    host; once that store is gone it says, in one error line, on which host and in which
    state dir the log is, and exits 1."""
    project.write(
        """
        wf:
          steps:
            - {id: hello, run: echo hello from the worker}
        """
    )
    assert project.run("wf", settings=cluster.settings(project.state_dir), run_id="logged").ok
    flags = ["-C", str(project.root), "--set", f"state_dir={project.state_dir}"]
    shown = nestr(*flags, "runs", "logs", "logged", "hello")
    assert shown.code == 0, shown.err
    assert "==> hello (attempt 1, stdout) <==\nhello from the worker" in shown.out
    worker = cluster.workers[0]
    worker.stop()
    shutil.rmtree(worker.state_dir)
    missing = nestr(*flags, "runs", "logs", "logged", "hello")
    assert missing.code == 1
    assert f"hello on host {socket.gethostname()}, in the store at" in missing.err
    assert str(worker.state_dir.resolve()) in missing.err
    assert "hello from the worker" not in missing.out
