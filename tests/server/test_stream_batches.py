"""Batches of the event stream stay small enough for a gRPC client with default settings."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from grpc import aio

from nestr.events import Event
from nestr.server._proto import events_pb2 as pb
from nestr.server._proto import events_pb2_grpc as pb_grpc
from nestr.server.eventproto import BATCH_BYTES
from nestr.store.eventlog import open_event_log

from .conftest import serve_channel

BIG = 200_000  # bytes of data per event: 30 of them are more than a client takes in one message
COUNT = 30
CLIENT_LIMIT = 4 * 1024 * 1024  # what a gRPC client receives in one message by default


def fill_big(state: Path, count: int) -> None:
    log = open_event_log(state)
    for i in range(count):
        log.append(Event("nestr.test.big", {"i": i, "blob": "x" * BIG}))
    log.close()


def test_a_replay_of_large_events_comes_in_batches_a_default_client_reads(tmp_path: Path) -> None:
    """30 events of 200 KB (6 MB, one batch of 500 by count) reach a client with gRPC's default
    4 MiB receive limit, in order, in batches of about a megabyte; then new ones live, batched
    the same way."""
    fill_big(tmp_path / "state", COUNT)

    async def scenario(channel: aio.Channel) -> list[list[int]]:
        stream = pb_grpc.EventServiceStub(channel).Subscribe(pb.SubscribeRequest())
        batches: list[list[int]] = []
        for last in (COUNT, 2 * COUNT):  # the replay, then as many appended while it is open
            if batches:
                await asyncio.to_thread(fill_big, tmp_path / "state", COUNT)
            while not batches or batches[-1][-1] < last:
                response = await stream.read()
                assert response.ByteSize() < CLIENT_LIMIT
                if response.batch.events:
                    batches.append([e.seq for e in response.batch.events])
        stream.cancel()
        return batches

    batches = serve_channel(tmp_path, scenario, token=None)
    assert [seq for batch in batches for seq in batch] == list(range(1, 2 * COUNT + 1))
    per_batch = BATCH_BYTES // BIG + 1
    assert all(len(batch) <= per_batch for batch in batches)
    assert len(batches) >= 2 * COUNT // per_batch


def test_get_events_pages_large_events_by_size(tmp_path: Path) -> None:
    """GetEvents with limit 500 over 6 MB of events returns pages a default client reads, each
    pointing at the next, until the last says end."""
    fill_big(tmp_path / "state", COUNT)

    async def scenario(channel: aio.Channel) -> list[Any]:
        stub = pb_grpc.EventServiceStub(channel)
        pages: list[Any] = []
        after = 0
        while not pages or not pages[-1].end:
            pages.append(await stub.GetEvents(pb.GetEventsRequest(after_seq=after, limit=500)))
            after = pages[-1].next_after_seq
        return pages

    pages = serve_channel(tmp_path, scenario, token=None)
    assert [e.seq for page in pages for e in page.events] == list(range(1, COUNT + 1))
    assert len(pages) > 1
    assert all(page.next_after_seq == page.events[-1].seq for page in pages)
    assert all(page.ByteSize() < CLIENT_LIMIT for page in pages)
