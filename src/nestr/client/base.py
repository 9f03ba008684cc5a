"""What every remote operation stands on: the settings, the address, a channel per operation,
the translation of failed calls, and a local bus the stream's events are replayed onto.

The CLI's progress views listen to a session's ``bus``; a remote session publishes on its own
in-memory bus each event the server streams for the operation it waits on, so the same views
show a remote run or assembly as they show a local one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from grpc import aio

from nestr.client.channel import Interceptor, open_channel
from nestr.client.errors import from_rpc_error
from nestr.events import EventBus

if TYPE_CHECKING:
    from nestr.config.settings import Settings

T = TypeVar("T")


class RemoteBase:
    """A nestr server's address and how to call it; ``notice`` tells the user about the
    connection (a reconnection) on the face's terms."""

    def __init__(
        self,
        settings: Settings,
        *,
        address: str,
        notice: Callable[[str], None] = lambda _text: None,
        interceptors: tuple[Interceptor, ...] = (),
    ) -> None:
        self.settings = settings
        self.address = address
        self.notice = notice
        self.interceptors = interceptors
        self.bus = EventBus()  # in memory: what the views of the face listen to

    @contextlib.asynccontextmanager
    async def channel(self) -> AsyncIterator[aio.Channel]:
        """A channel for one operation (grpc.aio binds a channel to its event loop); a call
        failing inside raises the error the same command raises locally."""
        channel = open_channel(
            self.settings.server, address=self.address, interceptors=self.interceptors
        )
        try:
            with self.translated():
                yield channel
        finally:
            await channel.close()

    @contextlib.contextmanager
    def translated(self) -> Iterator[None]:
        """Failed calls as nestr errors (:func:`nestr.client.errors.from_rpc_error`)."""
        try:
            yield
        except aio.AioRpcError as error:
            raise from_rpc_error(error, self.address) from None

    def blocking(self, work: Callable[[aio.Channel], Coroutine[Any, Any, T]]) -> T:
        """Run ``work(channel)`` to its end on a loop of its own (for the synchronous
        operations: status, the run queries)."""

        async def main() -> T:
            async with self.channel() as channel:
                return await work(channel)

        return asyncio.run(main())

    def close(self) -> None:
        """Nothing stays open between operations."""


def sent_path(path: Path | None) -> str:
    """A path for the server: as given (the server resolves a relative one against its own
    working directory); empty: the server's default."""
    return "" if path is None else str(path)
