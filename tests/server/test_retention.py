"""Event-log retention through the server: a stream from a pruned cursor starts with a `Gap`,
GetEvents reports the oldest retained seq, and `nestr serve` prunes as configured."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from grpc import aio

from nestr.config.settings import RetentionSettings
from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.server.reload import LIVE_KEYS
from nestr.server.retention import Pruner
from nestr.session import Session
from nestr.store.eventlog import open_event_log

from .conftest import GUARD, fill, live_config, make_session, serve_channel
from .processes import nestr_serve


def pruned_log(state: Path, count: int, keep: int) -> int:
    """``count`` events of which only the newest ``keep`` are retained; the oldest seq kept."""
    fill(state, count)
    log = open_event_log(state)
    oldest = log.prune(max_events=keep).oldest
    log.close()
    return oldest


async def read_until(stream: Any, last: int) -> tuple[list[pb.Gap], list[int]]:
    """The gaps and event seqs ``stream`` sends up to event ``last``."""
    gaps: list[pb.Gap] = []
    seqs: list[int] = []
    while not seqs or seqs[-1] < last:
        response = await stream.read()
        assert response is not aio.EOF
        if response.HasField("gap"):
            gaps.append(response.gap)
        seqs += [e.seq for e in response.batch.events]
    return gaps, seqs


def test_a_subscriber_from_a_pruned_cursor_gets_the_gap_then_every_retained_event_once(
    tmp_path: Path,
) -> None:
    """after_seq=10 of a log pruned to 61..100: the first message is Gap(10, 61), then 61..100
    and the events appended live, each once; after_seq 0 and 60 (nothing lost) get no Gap."""
    state = tmp_path / "state"
    assert pruned_log(state, 100, keep=40) == 61

    async def scenario(channel: aio.Channel) -> None:
        stub = pb_grpc.EventServiceStub(channel)
        stream = stub.Subscribe(pb.SubscribeRequest(after_seq=10, types=["nestr.test."]))
        first = await stream.read()
        assert first.WhichOneof("kind") == "gap"
        assert (first.gap.after_seq, first.gap.oldest_seq) == (10, 61)
        gaps, seqs = await read_until(stream, 100)
        fill(state, 5)  # another connection: followed live
        more_gaps, more = await read_until(stream, 105)
        stream.cancel()
        assert gaps == more_gaps == []
        assert seqs + more == list(range(61, 106))
        for after, start in ((0, 61), (60, 61)):
            quiet = stub.Subscribe(pb.SubscribeRequest(after_seq=after))
            no_gaps, seqs = await read_until(quiet, 105)
            quiet.cancel()
            assert (no_gaps, seqs[0]) == ([], start)

    serve_channel(tmp_path, scenario, token=None)


def test_get_events_reports_the_oldest_retained_seq(tmp_path: Path) -> None:
    """GetEvents after a pruned cursor returns the retained events and oldest_seq=61, so a
    client sees that 11..60 are gone; a client past the cut sees oldest_seq below its cursor."""
    state = tmp_path / "state"
    pruned_log(state, 100, keep=40)

    async def scenario(channel: aio.Channel) -> tuple[Any, Any]:
        stub = pb_grpc.EventServiceStub(channel)
        old = await stub.GetEvents(pb.GetEventsRequest(after_seq=10, limit=5))
        recent = await stub.GetEvents(pb.GetEventsRequest(after_seq=90))
        return old, recent

    old, recent = serve_channel(tmp_path, scenario, token=None)
    assert [e.seq for e in old.events] == [61, 62, 63, 64, 65]
    assert old.oldest_seq == 61
    assert (recent.oldest_seq, len(recent.events), recent.end) == (61, 10, True)


def test_the_pruner_prunes_at_start_with_the_policy_in_force(tmp_path: Path) -> None:
    """Pruner.start prunes before it returns with the policy its callable gives now; a policy
    without limits prunes nothing."""
    state = tmp_path / "state"
    fill(state, 30)
    policies = [RetentionSettings(), RetentionSettings(max_events=8, interval=3600)]

    async def main() -> tuple[int, int, int]:
        session = make_session(state)
        try:
            idle = Pruner(session, lambda: policies[0])
            await idle.start()
            await idle.stop()
            before = session.event_oldest()
            pruner = Pruner(session, lambda: policies[1])
            await pruner.start()
            await pruner.stop()
            return before, session.event_oldest(), pruner.runs
        finally:
            session.close()

    assert asyncio.run(main()) == (1, 23, 1)


def test_a_reloaded_retention_applies_at_the_next_prune(tmp_path: Path) -> None:
    """A pruner reading the live config prunes nothing under the first file, and with
    max_events=10 once a reload swapped in the edited file; the reload counts the key as
    applied, not as waiting for a restart."""
    state, config = tmp_path / "state", tmp_path / "config.yaml"
    fill(state, 30)
    config.write_text("log:\n  level: info\n")
    live = live_config(tmp_path, config, state)

    async def main() -> tuple[Any, Any]:
        session = Session.from_config(live.current, cwd=tmp_path)
        try:
            pruner = Pruner(session, lambda: live.current.settings.events.retention)
            before = await pruner.prune_once()
            config.write_text("events:\n  retention:\n    max_events: 10\n")
            assert list(live.reload().changed) == ["events.retention.max_events"]
            assert "events.retention.max_events" in LIVE_KEYS
            return before, await pruner.prune_once()
        finally:
            session.close()

    before, after = asyncio.run(main())
    assert before is None
    assert (after.deleted, after.oldest) == (20, 21)


def test_nestr_serve_prunes_at_start_and_streams_the_gap(tmp_path: Path) -> None:
    """`nestr serve` with events.retention.max_events=5 over a log of 20 prunes before it
    prints its address (logged as one JSON line); a stream from seq 3 gets Gap(3, 16) then
    16..20."""
    fill(tmp_path, 20)
    retention = {"NESTR_EVENTS__RETENTION__MAX_EVENTS": "5"}
    with nestr_serve(tmp_path, env=retention, json_logs=True) as (server, address):

        async def client() -> tuple[list[pb.Gap], list[int]]:
            async with aio.insecure_channel(address) as channel:
                async with asyncio.timeout(GUARD):
                    stub = pb_grpc.EventServiceStub(channel)
                    stream = stub.Subscribe(pb.SubscribeRequest(after_seq=3))
                    found = await read_until(stream, 20)
                    stream.cancel()
                    return found

        gaps, seqs = asyncio.run(client())
        assert [(g.after_seq, g.oldest_seq) for g in gaps] == [(3, 16)]
        assert seqs == [16, 17, 18, 19, 20]
        server.terminate()
        _, err = server.communicate(timeout=GUARD)
    logged = [json.loads(text) for text in err.splitlines() if "events pruned" in text]
    assert [(e["deleted"], e["oldest_seq"]) for e in logged] == [(15, 16)]
