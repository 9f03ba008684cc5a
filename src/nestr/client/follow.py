"""Following the server's event stream through disconnects: every event exactly once.

``Subscribe`` replays from a cursor and then goes live; when the stream breaks (the server
restarts, the network drops, or the server ends a subscriber that fell behind with
RESOURCE_EXHAUSTED and the ``seq`` to resume after), :func:`follow` subscribes again from the
last ``seq`` it delivered, after a growing pause, and says so through ``notice``. Events at or
below the cursor are dropped, so a replay that overlaps is never delivered twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

import grpc
from grpc import aio

from nestr.client import convert, stubs
from nestr.client.errors import RESUME_KEY, from_rpc_error, trailer
from nestr.events import Event
from nestr.server._proto import events_pb2 as pb

FIRST_PAUSE = 0.1  # seconds before the first attempt to subscribe again
LAST_PAUSE = 2.0  # the pause doubles up to this
RETRIED = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED}
)


async def follow(
    channel: aio.Channel,
    request: pb.SubscribeRequest,
    *,
    address: str,
    notice: Callable[[str], None],
) -> AsyncGenerator[Event, None]:
    """The events ``request`` asks for after its ``after_seq``, then live, across
    reconnections; ends only when the consumer stops."""
    stub = stubs.events(channel)
    after, pause, broken = request.after_seq, FIRST_PAUSE, False
    while True:
        current = pb.SubscribeRequest()
        current.CopyFrom(request)
        current.after_seq = after
        call = stub.Subscribe(current)
        try:
            async for response in call:
                if broken:
                    notice(f"reconnected to {address}")
                pause, broken = FIRST_PAUSE, False
                for message in _events(response):
                    if message.seq > after:
                        after = message.seq
                        yield convert.event(message)
            why = "the server ended the stream"
        except aio.AioRpcError as error:
            if error.code() not in RETRIED:
                raise from_rpc_error(error, address) from None
            resume = trailer(error, RESUME_KEY)
            if resume is not None and resume.isdigit():
                after = max(after, int(resume))  # what it sent; filtered events count too
            why = _reason(error)
        finally:
            call.cancel()
        if not broken:  # once per break, not once per attempt to subscribe again
            notice(f"{why}; reconnecting to {address} after seq {after}…")
            broken = True
        await asyncio.sleep(pause)
        pause = min(pause * 2, LAST_PAUSE)


def _events(response: pb.SubscribeResponse) -> list[pb.Event]:
    if response.HasField("batch"):
        return list(response.batch.events)
    return []


def _reason(error: aio.AioRpcError) -> str:
    if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return "the server ended the stream: this client fell behind"
    return f"lost the stream ({error.code().name.lower()}: {error.details() or 'no detail'})"
